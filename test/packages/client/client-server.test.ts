/**
 * @ingest/client against a real worker server in this process (in_memory publisher):
 * both transports authenticate, frames arrive as sent, and the server's refusals and
 * protocol closes end the stream with the documented errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IngestClient as NodeIngestClient } from '../../../packages/client/src/node';
import { IngestClient as BrowserIngestClient, IngestClientError } from '../../../packages/client/src/index';
import type { AudioRecord, IngestRecord } from '../../../src/shared/publishing/records';
import { frameBytes, startTestServer } from '../../support/ingest-server';
import { memoryPublisher } from '../../support/in-memory-records';

const audioOf = (records: readonly IngestRecord[], interactionId: string): Buffer =>
  Buffer.concat(
    records
      .filter((r): r is AudioRecord => r.type === 'audio' && r.interaction_id === interactionId)
      .map((r) => r.payload),
  );

test('client (ws, Authorization header): streams frames, stop resolves once all is committed', async (t) => {
  const server = await startTestServer(t, { BUFFER_DURATION_MS: '100' });
  const client = new NodeIngestClient({ url: server.url, token: () => server.token(), interactionId: 'pkg-node-1' });
  t.after(() => client.close());
  const started = await client.start();
  assert.equal(started.nextSeq, 1);
  const frames = Array.from({ length: 25 }, (_, i) => frameBytes(1, i + 1));
  for (const frame of frames) await client.send(frame);
  assert.deepEqual(await client.stop(), { lastSeq: 25, frames: 25 });
  assert.equal(client.stats.committed, 25);
  assert.equal(client.stats.uncommittedBytes, 0);
  assert.ok(audioOf(memoryPublisher(server).records(), 'pkg-node-1').equals(Buffer.concat(frames)));
  assert.ok(!server.logText().includes(server.token().slice(-20)), 'the token is not logged');
});

test('client (standard WebSocket, bearer subprotocol): the browser entry streams as well', async (t) => {
  assert.ok(globalThis.WebSocket, 'this Node.js has a global WebSocket');
  const server = await startTestServer(t, { BUFFER_DURATION_MS: '100' });
  const client = new BrowserIngestClient({ url: server.url, token: server.token(), interactionId: 'pkg-browser-1' });
  t.after(() => client.close());
  await client.start();
  const frames = Array.from({ length: 12 }, (_, i) => new Uint8Array(frameBytes(2, i + 1)));
  for (const frame of frames) await client.send(frame);
  assert.deepEqual(await client.stop(), { lastSeq: 12, frames: 12 });
  assert.ok(audioOf(memoryPublisher(server).records(), 'pkg-browser-1').equals(Buffer.concat(frames)));
});

test('client: a refused upgrade (401) ends the stream with refused and the status, without retrying', async (t) => {
  const server = await startTestServer(t);
  let calls = 0;
  const client = new NodeIngestClient({
    url: server.url,
    token: () => (calls++, 'not-a-jwt'),
    interactionId: 'pkg-401',
  });
  t.after(() => client.close());
  await assert.rejects(
    client.start(),
    (err: unknown) => err instanceof IngestClientError && err.code === 'refused' && err.status === 401,
  );
  assert.equal(calls, 1);
});

test('client: a 1008 from the server (interaction not allowed by the token) is fatal', async (t) => {
  const server = await startTestServer(t);
  const client = new NodeIngestClient({
    url: server.url,
    token: () => server.token({ interaction_id: 'another-call' }),
    interactionId: 'pkg-1008',
  });
  t.after(() => client.close());
  const closed = new Promise<number>((resolve) => client.on('closed', (e) => resolve(e.code)));
  await assert.rejects(client.start(), (err: unknown) => err instanceof IngestClientError && err.code === 'protocol');
  assert.equal(await closed, 1008);
  assert.equal(client.stats.reconnectAttempts, 0);
});

test('client: a frame over MAX_FRAME_BYTES is refused locally and the stream goes on', async (t) => {
  const server = await startTestServer(t, { BUFFER_DURATION_MS: '100' });
  const client = new NodeIngestClient({ url: server.url, token: server.token(), interactionId: 'pkg-large' });
  t.after(() => client.close());
  await client.start();
  await assert.rejects(
    client.send(new Uint8Array(65537)),
    (err: unknown) => err instanceof IngestClientError && err.code === 'frame_too_large',
  );
  await client.send(new Uint8Array(65536));
  assert.deepEqual(await client.stop(), { lastSeq: 1, frames: 1 });
});

test('client: a URL or token the WebSocket cannot take rejects start with refused, token unquoted', async () => {
  const secret = 'eyJ.secret-part';
  const cases = [
    // ws: a header value with a newline, a URL with a space; the standard WebSocket: a subprotocol with a space.
    new NodeIngestClient({ url: 'ws://127.0.0.1:9/v1/ingest', token: `${secret}\nX: y`, interactionId: 'bad-1' }),
    new NodeIngestClient({ url: 'ws://exa mple/v1/ingest', token: secret, interactionId: 'bad-2' }),
    new BrowserIngestClient({ url: 'ws://127.0.0.1:9/v1/ingest', token: `${secret} x`, interactionId: 'bad-3' }),
  ];
  for (const client of cases) {
    const err = await client.start().then(
      () => assert.fail('start resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof IngestClientError && err.code === 'refused', String(err));
    assert.ok(!err.message.includes('secret'), err.message);
  }
});
