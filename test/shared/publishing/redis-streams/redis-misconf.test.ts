/**
 * A Redis whose background saves fail (a full or unwritable disk) refuses
 * writes with MISCONF until a save succeeds again. That heals: the adapter must
 * report it as retryable and degraded, and a stream must keep its data and
 * retry, never close with 1011. A private redis-server of the test's own, with
 * a save point (stop-writes-on-bgsave-error applies only then) and its save
 * directory deleted under it: we run as root, so permissions would not stop it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import pino from 'pino';
import { ServerMessages } from '../../../../src/shared/protocol';
import { WorkerStats } from '../../../../src/worker/metrics/worker-stats';
import { InteractionOrder } from '../../../../src/worker/stream/interaction-order';
import { StreamSession } from '../../../../src/worker/stream/stream-session';
import { WorkerBacklog } from '../../../../src/worker/stream/worker-backlog';
import { FakeTransport } from '../../../support/fake-transport';
import { startPrivateRedis, type PrivateRedisServer } from '../../../support/private-redis-server';
import { isPublishError } from '../../../support/publisher-checks';
import { publisherFor, readStream } from '../../../support/redis';
import { LIMITS } from '../../../support/session-harness';
import { audioRecord } from '../../../support/sample-records';

const WAIT_MS = 20_000;

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`never happened within ${WAIT_MS} ms: ${what}`);
    await sleep(20);
  }
}

async function lastSaveStatus(server: PrivateRedisServer): Promise<string> {
  const info = await server.admin.info('persistence');
  if (/^rdb_bgsave_in_progress:1/m.test(info)) return 'in_progress';
  return /^rdb_last_bgsave_status:(\w+)/m.exec(info)?.[1] ?? 'unknown';
}

/** A server that refuses writes until a save succeeds (save point set, protected configs open for CONFIG SET dir). */
function startSavingRedis(t: TestContext): Promise<PrivateRedisServer> {
  return startPrivateRedis(t, [
    '--save',
    '3600 1',
    '--stop-writes-on-bgsave-error',
    'yes',
    '--enable-protected-configs',
    'yes',
  ]);
}

/** Points `dir` at a directory, deletes it and runs BGSAVE: the save fails; Redis refuses writes (MISCONF). */
async function failBackgroundSave(server: PrivateRedisServer): Promise<void> {
  const saveDir = path.join(server.dir, 'save');
  fs.mkdirSync(saveDir);
  await server.admin.config('SET', 'dir', saveDir);
  fs.rmdirSync(saveDir);
  await server.admin.bgsave();
  await waitUntil(async () => (await lastSaveStatus(server)) === 'err', 'the background save failed');
  // The premise of the test: the server itself answers writes with MISCONF.
  await assert.rejects(server.admin.xadd('probe', '*', 'f', 'v'), /^ReplyError: MISCONF|MISCONF/);
}

/** Gives the save its directory back and saves: writes are accepted again. */
async function repairBackgroundSave(server: PrivateRedisServer): Promise<void> {
  const saveDir = path.join(server.dir, 'save');
  fs.mkdirSync(saveDir);
  await server.admin.config('SET', 'dir', saveDir);
  await server.admin.bgsave();
  await waitUntil(async () => (await lastSaveStatus(server)) === 'ok', 'the background save succeeded');
}

test(
  'MISCONF (background saves failing) is retryable and degrades health; ' + 'the record is stored once saves heal',
  async (t) => {
    const server = await startSavingRedis(t);
    const publisher = publisherFor(t, { url: server.url, streamKey: 'misconf' });
    await publisher.start();
    await failBackgroundSave(server);

    const record = audioRecord('acme', 1, Buffer.from('kept through MISCONF'));
    await assert.rejects(publisher.publish(record), (err) => {
      assert.match((err as Error).message, /MISCONF/);
      return isPublishError(true)(err);
    });
    assert.equal(publisher.health().state, 'degraded');

    await repairBackgroundSave(server);
    await publisher.publish(record);
    assert.equal(publisher.health().state, 'up');
    const stored = await readStream(server.admin, 'misconf');
    assert.deepEqual(
      stored.map((e) => Object.fromEntries(e.fields).payload.toString()),
      ['kept through MISCONF'],
    );
  },
);

test('a stream keeps its frames through MISCONF: retried with backoff, never closed with 1011', async (t) => {
  const server = await startSavingRedis(t);
  const publisher = publisherFor(t, { url: server.url, streamKey: 'misconf' });
  await publisher.start();
  await failBackgroundSave(server);

  const logs: Array<{ msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as { msg: string }) });
  const transport = new FakeTransport();
  const limits = {
    ...LIMITS,
    bufferDurationMs: 20,
    ackInterval: 1000,
    maxChunkBytes: 64 * 1024,
    maxStreamBacklogBytes: 1024 * 1024,
    backpressureTimeoutMs: 60_000,
    idleTimeoutMs: 60_000,
  };
  const deps = {
    limits,
    publisher,
    logger,
    stats: new WorkerStats(),
    backlog: new WorkerBacklog(1 << 30),
    order: new InteractionOrder(),
    onFinished: () => undefined,
  };
  const session = new StreamSession(transport, 'acme', 'native', deps, new ServerMessages('v1'));
  const media = { encoding: 'pcm_s16le' as const, sample_rate: 8000, channels: 1 };
  session.begin({ interactionId: 'call-misconf', media, firstSeq: 1, metadata: {} });
  for (let i = 0; i < 5; i++) session.frame(Buffer.alloc(320, i));

  const failures = (): string[] => logs.map((l) => l.msg).filter((m) => /publish failed|refused/.test(m));
  const refused = (): boolean => failures().some((m) => m !== 'publish failed: retrying');
  await waitUntil(() => failures().length >= 2 || refused(), 'two failed publish attempts');
  assert.deepEqual([...new Set(failures())], ['publish failed: retrying']);
  assert.equal(transport.closedWith, undefined, 'the stream was closed');
  assert.equal(session.streaming, true);
  assert.equal(publisher.health().state, 'degraded');

  await repairBackgroundSave(server);
  await waitUntil(() => transport.replyTypes().includes('committed'), 'a committed reply');
  await session.stop();
  const closed = transport.closedWith as FakeTransport['closedWith']; // narrowed to undefined above
  assert.equal(closed?.code, 1000);
  const stored = (await readStream(server.admin, 'misconf')).map((e) => Object.fromEntries(e.fields));
  assert.deepEqual(
    stored.map((f) => f.type.toString()),
    ['stream_started', 'audio', 'stream_ended'],
  );
  assert.equal(stored[1].payload.length, 5 * 320);
});
