/**
 * The benchmark's reference servers (bench/reference/), started as the
 * benchmark starts them (bench/server-process.ts), must answer the protocol
 * as the service does on its happy path, and the pipeline must store the
 * records a consumer of the service reads: otherwise the ratios compare the
 * service with something that does less.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import jwt from 'jsonwebtoken';
import Redis from 'ioredis';
import { IngestClient } from '../../src/client/ingest-client';
import { PrivateRedis } from '../../bench/private-redis';
import { ServerProcess } from '../../bench/server-process';
import type { Variant } from '../../bench/variants';
import { entryFields, field } from '../support/field-map';
import { quitClient, readStream } from '../support/redis';
import { refusedUpgrade } from '../support/refused-upgrade';
import { uniqueName } from '../support/unique-name';

const BUFFER_MS = 300;
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const token = jwt.sign({ tenant_id: 'bench-tenant' }, privateKey, { algorithm: 'ES256', expiresIn: '1h' });

/** The fields of an audio record, in the order the service's record-builder.ts writes them. */
const AUDIO_FIELDS = [
  'type',
  'tenant_id',
  'interaction_id',
  'stream_id',
  'source',
  'received_at',
  'seq_start',
  'seq_end',
  'frames',
  'encoding',
  'sample_rate',
  'channels',
  'frame_bytes',
  'payload',
];

/**
 * Registers `release` to run after the test, after everything registered later: the server
 * must close before the Redis it publishes to is killed (node:test runs after-hooks first-registered first).
 */
const releases = new WeakMap<TestContext, Array<() => Promise<void>>>();
function releaseLast(t: TestContext, release: () => Promise<void>): void {
  let stack = releases.get(t);
  if (!stack) {
    const own: Array<() => Promise<void>> = [];
    releases.set(t, own);
    t.after(async () => {
      for (const next of own.reverse()) await next();
    });
    stack = own;
  }
  stack.push(release);
}

async function startServer(t: TestContext, variant: Variant, redisUrl?: string): Promise<string> {
  const logPath = path.join(os.tmpdir(), `${uniqueName(`bench-${variant}`)}.log`);
  const server = new ServerProcess({ variant, workers: 1, publicKeyPem, bufferMs: BUFFER_MS, redisUrl, logPath });
  releaseLast(t, () => server.close());
  await server.start();
  return `ws://127.0.0.1:${server.port}/v1/ingest`;
}

async function startRedis(t: TestContext): Promise<{ url: string; admin: Redis }> {
  const redis = new PrivateRedis();
  releaseLast(t, () => redis.close());
  await redis.start();
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  releaseLast(t, () => quitClient(admin));
  return { url: redis.url, admin };
}

function frame(seq: number, size = 320): Buffer {
  return Buffer.alloc(size, seq % 251);
}

for (const variant of ['floor', 'buffering', 'pipeline'] as const) {
  test(`${variant}: a token is verified at the upgrade`, async (t) => {
    const redis = variant === 'pipeline' ? await startRedis(t) : undefined;
    const url = await startServer(t, variant, redis?.url);
    await refusedUpgrade(IngestClient.connect(url), 401, 'invalid_token');
    await refusedUpgrade(IngestClient.connect(url, { token: `${token}x` }), 401, 'invalid_token');
  });

  test(`${variant}: start → started, an ack every 10th frame, stop → stopped and close 1000`, async (t) => {
    const redis = variant === 'pipeline' ? await startRedis(t) : undefined;
    const client = await IngestClient.connect(await startServer(t, variant, redis?.url), { token });
    const started = await client.start({ interactionId: 'call-1', firstSeq: 101 });
    assert.equal(started.next_seq, 101);
    assert.equal(started.interaction_id, 'call-1');
    for (let seq = 101; seq <= 125; seq++) client.sendFrame(frame(seq));
    await client.waitForMessage((m) => m.type === 'ack' && m.seq === 120);
    const { stopped, close } = await client.stop();
    assert.deepEqual(stopped, { type: 'stopped', last_seq: 125, frames: 25 });
    assert.equal(close.code, 1000);
    const acks = client.messages.filter((m) => m.type === 'ack').map((m) => m.seq);
    assert.deepEqual(acks, [110, 120]);
    if (variant !== 'floor') assert.equal(client.lastCommitted(), 125, 'committed reaches the last seq before stopped');
  });
}

test('pipeline: records land in Redis as the service writes them, committed after Redis holds them', async (t) => {
  const { url: redisUrl, admin } = await startRedis(t);
  const client = await IngestClient.connect(await startServer(t, 'pipeline', redisUrl), { token });
  await client.start({ interactionId: 'call-2', metadata: { agent: 'a-7' } });
  for (let seq = 1; seq <= 30; seq++) client.sendFrame(frame(seq));
  // The buffer is published once its oldest frame is BUFFER_MS old, without a stop.
  await client.waitForMessage((m) => m.type === 'committed' && m.seq === 30);
  const afterTimer = await readStream(admin, 'ingest:audio');
  assert.deepEqual(
    afterTimer.map((e) => field(entryFields(e), 'type')),
    ['stream_started', 'audio'],
  );
  for (let seq = 31; seq <= 34; seq++) client.sendFrame(frame(seq, 160));
  const { close } = await client.stop();
  assert.equal(close.code, 1000);

  const records = (await readStream(admin, 'ingest:audio')).map(entryFields);
  assert.deepEqual(
    records.map((r) => field(r, 'type')),
    ['stream_started', 'audio', 'audio', 'stream_ended'],
  );
  const [startedRecord, first, second, ended] = records;
  assert.equal(field(startedRecord, 'metadata'), '{"agent":"a-7"}');
  assert.deepEqual([...first.keys()], AUDIO_FIELDS);
  for (const r of records) {
    assert.equal(field(r, 'tenant_id'), 'bench-tenant');
    assert.equal(field(r, 'interaction_id'), 'call-2');
    assert.equal(field(r, 'source'), 'native');
    assert.equal(field(r, 'stream_id'), field(startedRecord, 'stream_id'));
  }
  assert.deepEqual(
    ['seq_start', 'seq_end', 'frames', 'frame_bytes'].map((name) => field(first, name)),
    ['1', '30', '30', '320'],
  );
  assert.deepEqual(first.get('payload'), Buffer.concat(Array.from({ length: 30 }, (_, i) => frame(i + 1))));
  assert.deepEqual(
    ['seq_start', 'seq_end', 'frames', 'frame_bytes'].map((name) => field(second, name)),
    ['31', '34', '4', '160'],
  );
  assert.deepEqual(
    ['last_seq', 'frames', 'reason'].map((name) => field(ended, name)),
    ['34', '34', 'stop'],
  );
  const committed = client.messages.filter((m) => m.type === 'committed').map((m) => m.seq);
  assert.deepEqual(committed, [30, 34]);
});

test('pipeline: mixed frame sizes carry frame_sizes; a client that leaves still has its audio stored', async (t) => {
  const { url: redisUrl, admin } = await startRedis(t);
  const client = await IngestClient.connect(await startServer(t, 'pipeline', redisUrl), { token });
  await client.start({ interactionId: 'call-3' });
  const sizes = [320, 320, 320, 160];
  sizes.forEach((size, i) => client.sendFrame(frame(i + 1, size)));
  await client.waitForMessage((m) => m.type === 'committed' && m.seq === 4);
  client.sendFrame(frame(5));
  client.close(1000);
  await client.closed;
  // No message tells a departed client its records are stored: poll Redis until the end record is there.
  let records = (await readStream(admin, 'ingest:audio')).map(entryFields);
  for (const deadline = Date.now() + 10_000; records.length < 4 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    records = (await readStream(admin, 'ingest:audio')).map(entryFields);
  }
  assert.equal(field(records[1], 'frame_sizes'), '320x3,160');
  assert.equal(field(records[2], 'frame_bytes'), '320');
  assert.deepEqual(
    ['last_seq', 'frames', 'reason'].map((name) => field(records[3], name)),
    ['5', '5', 'client_closed'],
  );
});
