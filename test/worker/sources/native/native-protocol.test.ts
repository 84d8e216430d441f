/**
 * The native protocol on a real server (protocol.md 1.2-1.5): what the client
 * sends, what it gets back, and how each way of ending a stream closes it.
 * Every wait is for a message, a close or a published record, never a sleep.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import type { InMemoryPublisher } from '../../../../src/shared/publishing/in-memory/in-memory-publisher';
import type {
  AudioRecord,
  IngestRecord,
  StreamEndedRecord,
  StreamStartedRecord,
} from '../../../../src/shared/publishing/records';
import type { IngestClient, ServerMessage } from '../../../../src/client/ingest-client';
import { memoryPublisher, waitForRecord } from '../../../support/in-memory-records';
import { frameBytes, startTestServer } from '../../../support/ingest-server';
import { DEFAULT_TENANT } from '../../../support/tokens';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const isEnded = (r: IngestRecord): r is StreamEndedRecord => r.type === 'stream_ended';
const audioOf = (publisher: InMemoryPublisher): AudioRecord[] =>
  publisher.records().filter((r): r is AudioRecord => r.type === 'audio');

function sendFrames(client: IngestClient, fromSeq: number, count: number, size = 320): Buffer[] {
  const sent: Buffer[] = [];
  for (let seq = fromSeq; seq < fromSeq + count; seq++) {
    const frame = frameBytes(1, seq, size);
    client.sendFrame(frame);
    sent.push(frame);
  }
  return sent;
}

function waitForAck(client: IngestClient, seq: number): Promise<ServerMessage> {
  return client.waitForMessage((m) => m.type === 'ack' && m.seq === seq);
}

/** The error message the server sent before closing, and the close itself. */
async function refusedStream(
  client: IngestClient,
): Promise<{ error: ServerMessage | undefined; code: number; reason: string }> {
  const { code, reason } = await client.closed;
  return { error: client.messages.find((m) => m.type === 'error'), code, reason };
}

async function assertClosedWith(client: IngestClient, closeCode: number, errorCode: string): Promise<void> {
  const { error, code, reason } = await refusedStream(client);
  assert.equal(code, closeCode);
  assert.ok(reason.length > 0, 'the close carries a reason');
  assert.ok(error, 'an error message precedes the close');
  assert.equal(error.code, errorCode);
  assert.equal(typeof error.message, 'string');
  assert.ok((error.message as string).length > 0);
}

test('1.3 start is answered with started {type, stream_id (uuid), interaction_id, next_seq}', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  const started = await client.start({ interactionId: 'call-123' });
  assert.deepEqual(Object.keys(started).sort(), ['interaction_id', 'next_seq', 'stream_id', 'type']);
  assert.equal(started.type, 'started');
  assert.match(String(started.stream_id), UUID);
  assert.equal(started.interaction_id, 'call-123');
  assert.equal(started.next_seq, 1);
  const record = await waitForRecord(
    memoryPublisher(server),
    (r): r is StreamStartedRecord => r.type === 'stream_started',
  );
  assert.equal(record.stream_id, started.stream_id);
});

test('1.2 first_seq is honoured: next_seq, acks, stopped and record seq ranges count from it', async (t) => {
  const server = await startTestServer(t, { ACK_INTERVAL: '5' });
  const client = await server.connect();
  const started = await client.start({ interactionId: 'call-resumed', firstSeq: 101 });
  assert.equal(started.next_seq, 101);
  const frames = sendFrames(client, 101, 10);
  await waitForAck(client, 110);
  const { stopped, close } = await client.stop();
  assert.equal(close.code, 1000);
  assert.deepEqual(
    client.messages.filter((m) => m.type === 'ack').map((m) => m.seq),
    [105, 110],
  );
  assert.deepEqual(stopped, { type: 'stopped', last_seq: 110, frames: 10 });
  const audio = audioOf(memoryPublisher(server));
  assert.equal(audio[0]?.seq_start, 101);
  assert.equal(audio.at(-1)?.seq_end, 110);
  assert.ok(Buffer.concat(audio.map((r) => r.payload)).equals(Buffer.concat(frames)));
  const startedRecord = memoryPublisher(server)
    .records()
    .find((r): r is StreamStartedRecord => r.type === 'stream_started');
  assert.equal(startedRecord?.first_seq, 101);
});

test("1.3 an ack follows every ACK_INTERVAL-th frame and names that frame's seq", async (t) => {
  const server = await startTestServer(t, { ACK_INTERVAL: '5' });
  const client = await server.connect();
  await client.start({ interactionId: 'call-acks' });
  sendFrames(client, 1, 17);
  await waitForAck(client, 15);
  await client.stop();
  const acks = client.messages.filter((m) => m.type === 'ack');
  assert.deepEqual(acks, [
    { type: 'ack', seq: 5 },
    { type: 'ack', seq: 10 },
    { type: 'ack', seq: 15 },
  ]);
});

test('1.3 committed is sent only once the backend confirmed the record holding the frames', async (t) => {
  // One frame per record, so each frame is committed on its own while the stream runs.
  const server = await startTestServer(t, { MAX_CHUNK_BYTES: '1024', MAX_FRAME_BYTES: '1024' });
  const publisher = memoryPublisher(server);
  const client = await server.connect();
  await client.start({ interactionId: 'call-committed' });
  sendFrames(client, 1, 3, 1024);
  for (const seq of [1, 2, 3]) {
    await client.waitForMessage((m) => m.type === 'committed' && m.seq === seq);
    // Already in the backend when the client hears of it.
    assert.ok(
      audioOf(publisher).some((r) => r.seq_end === seq),
      `record up to ${seq} is published`,
    );
  }
  assert.equal(client.lastCommitted(), 3);
  await client.stop();
});

test(
  '1.3 after stop the last frame is committed, then stopped ' + '{last_seq, frames} is sent, then close 1000',
  async (t) => {
    const server = await startTestServer(t);
    const client = await server.connect();
    await client.start({ interactionId: 'call-stop' });
    sendFrames(client, 1, 7);
    const { stopped, close } = await client.stop();
    assert.deepEqual(close, { code: 1000, reason: 'stream stopped' });
    assert.deepEqual(stopped, { type: 'stopped', last_seq: 7, frames: 7 });
    const committedAt = client.messages.findIndex((m) => m.type === 'committed' && m.seq === 7);
    const stoppedAt = client.messages.findIndex((m) => m.type === 'stopped');
    assert.ok(committedAt >= 0 && committedAt < stoppedAt, 'committed 7 precedes stopped');
    const ended = memoryPublisher(server).records().find(isEnded);
    assert.deepEqual(
      { reason: ended?.reason, last_seq: ended?.last_seq, frames: ended?.frames },
      { reason: 'stop', last_seq: 7, frames: 7 },
    );
  },
);

test(
  '1.2 keepalive resets the idle timer: a silent stream that ' + 'sends keepalives outlives several idle periods',
  async (t) => {
    // Generous against event-loop stalls (client and server share one process), still under 3 s.
    const idleMs = 800;
    const server = await startTestServer(t, { IDLE_TIMEOUT_MS: String(idleMs) });
    const client = await server.connect();
    await client.start({ interactionId: 'call-quiet' });
    const since = Date.now();
    const wanted = 70; // 70 keepalives, one per 40 ms: at least 2800 ms, three and a half idle periods
    let timer: NodeJS.Timeout | undefined;
    t.after(() => clearInterval(timer));
    const enough = new Promise<void>((resolve) => {
      let sent = 0;
      timer = setInterval(() => {
        client.sendJson({ type: 'keepalive' });
        if (++sent === wanted) {
          clearInterval(timer);
          resolve();
        }
      }, 40);
    });
    let kept = false;
    const closedEarly = client.closed.then((c) => {
      if (!kept) assert.fail(`closed with ${c.code} ${c.reason} while keepalives were sent`);
    });
    await Promise.race([enough, closedEarly]);
    kept = true;
    assert.ok(Date.now() - since >= 3 * idleMs, 'the stream lived past three idle periods');
    assert.equal(client.closeState, undefined);
    const { stopped, close } = await client.stop();
    assert.equal(close.code, 1000);
    assert.deepEqual(stopped, { type: 'stopped', last_seq: 0, frames: 0 });
    assert.equal(memoryPublisher(server).records().find(isEnded)?.reason, 'stop');
  },
);

test(
  '1.4 a stream with no frame or keepalive for IDLE_TIMEOUT_MS is ' +
    'closed with 1000 and ends with reason idle_timeout',
  async (t) => {
    const server = await startTestServer(t, { IDLE_TIMEOUT_MS: '500' });
    const client = await server.connect();
    await client.start({ interactionId: 'call-idle' });
    const frames = sendFrames(client, 1, 2);
    const { code } = await client.closed;
    assert.equal(code, 1000);
    // The close waits for the backend: the records are there already.
    const publisher = memoryPublisher(server);
    const ended = publisher.records().find(isEnded);
    assert.equal(ended?.reason, 'idle_timeout');
    assert.equal(ended?.frames, 2);
    assert.ok(Buffer.concat(audioOf(publisher).map((r) => r.payload)).equals(Buffer.concat(frames)));
    assert.equal(client.lastCommitted(), 2);
  },
);

test('1.2 no start within START_TIMEOUT_MS closes the connection with 1008', async (t) => {
  const server = await startTestServer(t, { START_TIMEOUT_MS: '100' });
  const client = await server.connect();
  await assertClosedWith(client, 1008, 'start_timeout');
  assert.equal(memoryPublisher(server).records().length, 0);
});

test('1.2 a binary frame before start closes the connection with 1008', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  client.sendFrame(frameBytes(1, 1));
  await assertClosedWith(client, 1008, 'frame_before_start');
});

test('1.2 a second start closes the stream with 1008 and what was buffered is still published', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  await client.start({ interactionId: 'call-twice' });
  const frames = sendFrames(client, 1, 3);
  client.sendJson({ type: 'start', interaction_id: 'call-twice' });
  await assertClosedWith(client, 1008, 'duplicate_start');
  const publisher = memoryPublisher(server);
  const ended = await waitForRecord(publisher, isEnded);
  assert.deepEqual({ reason: ended.reason, frames: ended.frames }, { reason: 'error', frames: 3 });
  assert.ok(Buffer.concat(audioOf(publisher).map((r) => r.payload)).equals(Buffer.concat(frames)));
});

test('1.2 a text message that is not valid JSON closes the stream with 1008', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  await client.start({ interactionId: 'call-garbled' });
  client.ws.send('{"type":"keepalive"');
  await assertClosedWith(client, 1008, 'invalid_message');
});

test('1.2 a text message of an unknown type closes the stream with 1008', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  await client.start({ interactionId: 'call-unknown' });
  client.sendJson({ type: 'dance' });
  await assertClosedWith(client, 1008, 'invalid_message');
});

test(
  '1.2 metadata nested too deep to serialise is an invalid ' + 'start (1008), and the worker keeps serving',
  async (t) => {
    const server = await startTestServer(t);
    const client = await server.connect();
    // About 12 KB of JSON that overflows JSON.stringify's stack when re-serialised.
    client.ws.send(
      `{"type":"start","interaction_id":"call-deep","metadata":{"a":${'['.repeat(6000)}${']'.repeat(6000)}}}`,
    );
    await assertClosedWith(client, 1008, 'invalid_start');
    const next = await server.connect();
    await next.start({ interactionId: 'call-after-deep' });
    assert.equal((await next.stop()).close.code, 1000);
  },
);

test(
  '1.4 a close reason cut to the 123-byte limit never splits ' + 'a character, and the stream ends normally',
  async (t) => {
    const server = await startTestServer(t);
    const client = await server.connect();
    await client.start({ interactionId: 'call-unicode' });
    client.sendFrame(frameBytes(1, 1));
    client.sendJson({ type: '中'.repeat(60) });
    const { code, reason } = await client.closed;
    assert.equal(code, 1008);
    assert.ok(Buffer.byteLength(reason) <= 123, `reason of ${Buffer.byteLength(reason)} bytes`);
    assert.ok(!reason.includes('\uFFFD'), 'no broken character');
    await waitForRecord(
      memoryPublisher(server),
      (r): r is StreamEndedRecord => r.type === 'stream_ended' && r.interaction_id === 'call-unicode',
    );
    await server.server.close(); // a stuck session would hold this forever
  },
);

test('1.2 stop before start closes the connection with 1008', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  client.sendJson({ type: 'stop' });
  await assertClosedWith(client, 1008, 'invalid_message');
});

const media = { encoding: 'pcm_s16le', sample_rate: 8000, channels: 1 };
const invalidStarts: Array<[string, Record<string, unknown>]> = [
  ['an interaction_id with characters outside [A-Za-z0-9._:-]', { interaction_id: 'call/123 x', media }],
  ['an interaction_id longer than 128 characters', { interaction_id: 'a'.repeat(129), media }],
  ['no interaction_id', { media }],
  ['an empty interaction_id', { interaction_id: '', media }],
  ['sample_rate 7000', { interaction_id: 'call-1', media: { ...media, sample_rate: 7000 } }],
  ['sample_rate 48001', { interaction_id: 'call-1', media: { ...media, sample_rate: 48001 } }],
  ['channels 3', { interaction_id: 'call-1', media: { ...media, channels: 3 } }],
  ['encoding "mp3"', { interaction_id: 'call-1', media: { ...media, encoding: 'mp3' } }],
  ['first_seq 0', { interaction_id: 'call-1', media, first_seq: 0 }],
  ['first_seq 1.5', { interaction_id: 'call-1', media, first_seq: 1.5 }],
  ['metadata over 4 KiB serialised', { interaction_id: 'call-1', media, metadata: { blob: 'x'.repeat(4096) } }],
  ['metadata that is not an object (a string)', { interaction_id: 'call-1', media, metadata: 'agent a-7' }],
  ['metadata that is not an object (an array)', { interaction_id: 'call-1', media, metadata: ['a-7'] }],
];

for (const [what, fields] of invalidStarts) {
  test(`1.2 a start with ${what} is refused with an error message and close 1008`, async (t) => {
    const server = await startTestServer(t);
    const client = await server.connect();
    client.sendJson({ type: 'start', ...fields });
    await assertClosedWith(client, 1008, 'invalid_start');
    assert.equal(
      client.messages.some((m) => m.type === 'started'),
      false,
    );
    assert.equal(memoryPublisher(server).records().length, 0);
  });
}

test('1.2 start fields at their limits are accepted (128-char id, 48000 Hz, 2 channels, 4 KiB metadata)', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  const interactionId = 'A-z.0:_'.repeat(18) + 'ab'; // 128 characters
  const metadata = { blob: 'x'.repeat(4096 - '{"blob":""}'.length) };
  assert.equal(Buffer.byteLength(JSON.stringify(metadata)), 4096);
  const started = await client.start({ interactionId, sampleRate: 48000, channels: 2, encoding: 'opus', metadata });
  assert.equal(started.interaction_id, interactionId);
  const record = await waitForRecord(
    memoryPublisher(server),
    (r): r is StreamStartedRecord => r.type === 'stream_started',
  );
  assert.deepEqual(
    {
      encoding: record.encoding,
      sample_rate: record.sample_rate,
      channels: record.channels,
      metadata: record.metadata,
    },
    { encoding: 'opus', sample_rate: 48000, channels: 2, metadata },
  );
  await client.stop();
});

test(
  '1.2 a frame over MAX_FRAME_BYTES closes the stream with ' + '1009 and the frames before it are published',
  async (t) => {
    const server = await startTestServer(t, { MAX_FRAME_BYTES: '1024' });
    const client = await server.connect();
    await client.start({ interactionId: 'call-big' });
    const frames = sendFrames(client, 1, 3, 1024); // exactly the limit: accepted
    client.sendFrame(Buffer.alloc(2000, 7));
    await assertClosedWith(client, 1009, 'frame_too_large');
    const publisher = memoryPublisher(server);
    const ended = await waitForRecord(publisher, isEnded);
    assert.deepEqual(
      { reason: ended.reason, last_seq: ended.last_seq, frames: ended.frames },
      { reason: 'error', last_seq: 3, frames: 3 },
    );
    const audio = audioOf(publisher);
    assert.deepEqual([audio[0]?.seq_start, audio.at(-1)?.seq_end], [1, 3]);
    assert.ok(Buffer.concat(audio.map((r) => r.payload)).equals(Buffer.concat(frames)));
  },
);

test(
  '1.2 a frame over the default MAX_FRAME_BYTES (65536) closes the stream with ' +
    '1009, ends it with reason error, and publishes the frames before it',
  async (t) => {
    const server = await startTestServer(t);
    const client = await server.connect();
    await client.start({ interactionId: 'call-huge' });
    const frames = sendFrames(client, 1, 2, 65536); // exactly the limit: accepted
    client.sendFrame(Buffer.alloc(65537, 7));
    const { code } = await client.closed;
    assert.equal(code, 1009);
    const publisher = memoryPublisher(server);
    const ended = await waitForRecord(publisher, isEnded);
    assert.deepEqual(
      { reason: ended.reason, last_seq: ended.last_seq, frames: ended.frames },
      { reason: 'error', last_seq: 2, frames: 2 },
    );
    assert.ok(Buffer.concat(audioOf(publisher).map((r) => r.payload)).equals(Buffer.concat(frames)));
  },
);

test("1.2 a start whose tenant_id differs from the token's tenant is refused with 1008", async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  client.sendJson({ type: 'start', interaction_id: 'call-1', media, tenant_id: 'tenant-b' });
  await assertClosedWith(client, 1008, 'tenant_mismatch');
  assert.equal(memoryPublisher(server).records().length, 0);
});

test("1.2 a start whose tenant_id equals the token's tenant is accepted", async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  const started = await client.start({ interactionId: 'call-1', tenantId: DEFAULT_TENANT });
  assert.equal(started.type, 'started');
  await client.stop();
});

test('1.1 a token with an interaction_id claim refuses a start for another interaction with 1008', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect({ claims: { interaction_id: 'call-granted' } });
  client.sendJson({ type: 'start', interaction_id: 'call-other', media });
  await assertClosedWith(client, 1008, 'interaction_mismatch');
  assert.equal(memoryPublisher(server).records().length, 0);
});

test('1.1 a token with an interaction_id claim accepts a start for that interaction', async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect({ claims: { interaction_id: 'call-granted' } });
  const started = await client.start({ interactionId: 'call-granted' });
  assert.equal(started.interaction_id, 'call-granted');
  const { close } = await client.stop();
  assert.equal(close.code, 1000);
});

test('1.2.1 a legacy start ({"event":"start"}, pcm16, top-level media) is answered in the event dialect', async (t) => {
  const server = await startTestServer(t, { ACK_INTERVAL: '2' });
  const client = await server.connect();
  client.sendJson({
    event: 'start',
    interaction_id: 'call-legacy',
    tenant_id: DEFAULT_TENANT,
    sample_rate: 24000,
    encoding: 'pcm16',
  });
  const started = await client.waitForMessage((m) => m.event === 'started');
  assert.equal(started.interaction_id, 'call-legacy');
  const frames = sendFrames(client, 1, 4, 480);
  await client.waitForMessage((m) => m.event === 'ack' && m.seq === 4);
  client.sendJson({ event: 'stop' });
  const { code } = await client.closed;
  assert.equal(code, 1000);
  for (const m of client.messages) assert.equal(m.type, undefined, `no "type" key in ${JSON.stringify(m)}`);
  const events = client.messages.map((m) => m.event);
  assert.deepEqual(events, ['started', 'ack', 'ack', 'committed', 'stopped']);
  assert.deepEqual(
    client.messages.filter((m) => m.event === 'ack').map((m) => m.seq),
    [2, 4],
  );
  assert.deepEqual(
    client.messages.find((m) => m.event === 'committed'),
    { event: 'committed', seq: 4 },
  );
  assert.deepEqual(client.messages.at(-1), { event: 'stopped', last_seq: 4, frames: 4 });
  const publisher = memoryPublisher(server);
  const startedRecord = publisher.records().find((r): r is StreamStartedRecord => r.type === 'stream_started');
  assert.deepEqual(
    [startedRecord?.encoding, startedRecord?.sample_rate, startedRecord?.channels],
    ['pcm_s16le', 24000, 1],
  );
  const audio = audioOf(publisher);
  for (const r of audio) assert.deepEqual([r.encoding, r.sample_rate], ['pcm_s16le', 24000]);
  assert.ok(Buffer.concat(audio.map((r) => r.payload)).equals(Buffer.concat(frames)));
});

test("1.2.1 a legacy start whose tenant_id differs from the token's is refused with 1008", async (t) => {
  const server = await startTestServer(t);
  const client = await server.connect();
  client.sendJson({
    event: 'start',
    interaction_id: 'call-legacy',
    tenant_id: 'tenant-b',
    sample_rate: 24000,
    encoding: 'pcm16',
  });
  const { code } = await client.closed;
  assert.equal(code, 1008);
  // Refused before the dialect switch: the error is in the current form.
  assert.equal(client.messages.at(-1)?.code, 'tenant_mismatch');
  assert.equal(memoryPublisher(server).records().length, 0);
});

test(
  '1.5 a peer that does not answer pings is terminated, and its ' +
    'buffered frames are published with reason ping_timeout',
  async (t) => {
    const server = await startTestServer(t, { PING_INTERVAL_MS: '400', ACK_INTERVAL: '1' });
    // A dead peer: ws answers pings by itself unless autoPong is off (IngestClient cannot turn it off).
    const ws = new WebSocket(server.url, {
      headers: { Authorization: `Bearer ${server.token()}` },
      autoPong: false,
      perMessageDeflate: false,
    });
    t.after(() => ws.terminate());
    const messages: ServerMessage[] = [];
    let pings = 0;
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) messages.push(JSON.parse(data.toString('utf8')) as ServerMessage);
    });
    ws.on('ping', () => pings++);
    const closed = once(ws, 'close');
    await once(ws, 'open');
    ws.send(JSON.stringify({ type: 'start', interaction_id: 'call-dead-peer' }));
    const frames = [frameBytes(1, 1), frameBytes(1, 2), frameBytes(1, 3)];
    for (const frame of frames) ws.send(frame, { binary: true });
    const [code] = (await closed) as [number, Buffer];
    assert.equal(code, 1006, 'terminated, no close handshake');
    assert.ok(pings >= 1, 'the server pinged before giving up');
    assert.deepEqual(
      messages.filter((m) => m.type === 'ack').map((m) => m.seq),
      [1, 2, 3],
    );
    const publisher = memoryPublisher(server);
    const ended = await waitForRecord(publisher, isEnded);
    assert.deepEqual(
      { reason: ended.reason, frames: ended.frames, last_seq: ended.last_seq },
      { reason: 'ping_timeout', frames: 3, last_seq: 3 },
    );
    assert.ok(Buffer.concat(audioOf(publisher).map((r) => r.payload)).equals(Buffer.concat(frames)));
  },
);

test('1.5 pongs that do not answer the server ping (unsolicited, other payload) do not keep it alive', async (t) => {
  const server = await startTestServer(t, { PING_INTERVAL_MS: '200' });
  const ws = new WebSocket(server.url, {
    headers: { Authorization: `Bearer ${server.token()}` },
    autoPong: false,
    perMessageDeflate: false,
  });
  t.after(() => ws.terminate());
  // Pongs of its own, and a wrong answer to every ping: a client faking liveness without reading.
  const faker = setInterval(() => ws.readyState === ws.OPEN && ws.pong(), 20);
  t.after(() => clearInterval(faker));
  ws.on('ping', () => ws.pong(Buffer.from('not-your-payload')));
  const closed = once(ws, 'close');
  await once(ws, 'open');
  ws.send(JSON.stringify({ type: 'start', interaction_id: 'call-fake-pongs' }));
  const deadline = setTimeout(() => ws.emit('close', -1), 10_000); // old code: never terminated
  t.after(() => clearTimeout(deadline));
  const [code] = (await closed) as [number, Buffer];
  assert.equal(code, 1006, 'terminated for want of a real pong');
  const ended = await waitForRecord(memoryPublisher(server), isEnded);
  assert.equal(ended.reason, 'ping_timeout');
});
