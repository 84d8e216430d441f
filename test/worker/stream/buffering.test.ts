/**
 * Buffering and publishing on a real server (protocol.md sections 2 and 3),
 * read back from the in_memory publisher: when frames become records, what the
 * records hold, and that nothing acked is lost while the backend fails.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InMemoryPublisher } from '../../../src/shared/publishing/in-memory/in-memory-publisher';
import type { AudioRecord, IngestRecord, StreamEndedRecord } from '../../../src/shared/publishing/records';
import type { IngestClient } from '../../../src/client/ingest-client';
import { httpGet } from '../../support/http-get';
import { memoryPublisher, waitForRecord } from '../../support/in-memory-records';
import { frameBytes, startTestServer } from '../../support/ingest-server';
import { DEFAULT_TENANT } from '../../support/tokens';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function endOf(interactionId: string): (r: IngestRecord) => r is StreamEndedRecord {
  return (r): r is StreamEndedRecord => r.type === 'stream_ended' && r.interaction_id === interactionId;
}

function recordsOf(publisher: InMemoryPublisher, interactionId: string): IngestRecord[] {
  return publisher.records().filter((r) => r.interaction_id === interactionId);
}

function audioOf(publisher: InMemoryPublisher, interactionId: string): AudioRecord[] {
  return recordsOf(publisher, interactionId).filter((r): r is AudioRecord => r.type === 'audio');
}

/** Frame `seq` of stream `stream`, `size` bytes (sizes vary when given a function). */
function sendFrames(
  client: IngestClient,
  stream: number,
  fromSeq: number,
  count: number,
  size: number | ((seq: number) => number) = 320,
): Buffer[] {
  const sent: Buffer[] = [];
  for (let seq = fromSeq; seq < fromSeq + count; seq++) {
    const frame = frameBytes(stream, seq, typeof size === 'number' ? size : size(seq));
    client.sendFrame(frame);
    sent.push(frame);
  }
  return sent;
}

function waitForCommitted(client: IngestClient, seq: number): Promise<unknown> {
  return client.waitForMessage((m) => m.type === 'committed' && m.seq === seq);
}

/** The audio records cover firstSeq..firstSeq+frames.length-1 contiguously, in order, byte-exact. */
function assertCovers(audio: AudioRecord[], frames: Buffer[], firstSeq = 1): void {
  let expected = firstSeq;
  for (const record of audio) {
    assert.equal(record.seq_start, expected, `record starts at ${record.seq_start}, expected ${expected}`);
    assert.equal(record.frames, record.seq_end - record.seq_start + 1);
    const want = Buffer.concat(frames.slice(record.seq_start - firstSeq, record.seq_end - firstSeq + 1));
    assert.ok(
      record.payload.equals(want),
      `payload of ${record.seq_start}-${record.seq_end} is the frames concatenated`,
    );
    expected = record.seq_end + 1;
  }
  assert.equal(expected - firstSeq, frames.length, 'every frame is in a record');
}

test('2 frames are published as one audio record as soon as the buffer reaches MAX_CHUNK_BYTES', async (t) => {
  const server = await startTestServer(t, { MAX_CHUNK_BYTES: '4096', MAX_FRAME_BYTES: '1024' });
  const publisher = memoryPublisher(server);
  const client = await server.connect();
  await client.start({ interactionId: 'call-chunks' });
  const frames = sendFrames(client, 1, 1, 12, 1024);
  await waitForCommitted(client, 12); // no stop: the size limit alone formed the records
  const audio = audioOf(publisher, 'call-chunks');
  assert.deepEqual(
    audio.map((r) => [r.seq_start, r.seq_end, r.frames, r.payload.length]),
    [
      [1, 4, 4, 4096],
      [5, 8, 4, 4096],
      [9, 12, 4, 4096],
    ],
  );
  assertCovers(audio, frames);
  await client.stop();
  assert.equal(audioOf(publisher, 'call-chunks').length, 3, 'the stop had nothing left to flush');
});

test(
  '2 frames are published once the oldest buffered frame is ' +
    'BUFFER_DURATION_MS old, for every buffer of the stream',
  async (t) => {
    const server = await startTestServer(t, { BUFFER_DURATION_MS: '100' });
    const publisher = memoryPublisher(server);
    const client = await server.connect();
    await client.start({ interactionId: 'call-timed' });
    const frames: Buffer[] = [];
    // Three rounds: the timer must re-arm after each flush, not only the first time.
    for (const [from, count] of [
      [1, 3],
      [4, 2],
      [6, 1],
    ] as const) {
      const sentAt = Date.now();
      frames.push(...sendFrames(client, 1, from, count));
      await waitForCommitted(client, from + count - 1);
      assert.ok(Date.now() - sentAt >= 90, 'the buffer waited for its duration');
      const record = audioOf(publisher, 'call-timed').at(-1)!;
      assert.deepEqual([record.seq_start, record.seq_end], [from, from + count - 1]);
    }
    assert.equal(client.closeState, undefined, 'formed by the timer while the stream is open');
    assertCovers(audioOf(publisher, 'call-timed'), frames);
    await client.stop();
  },
);

test('2 a MAX_CHUNK_BYTES flush does not stop the BUFFER_DURATION_MS timer for the frames that follow', async (t) => {
  const server = await startTestServer(t, {
    BUFFER_DURATION_MS: '100',
    MAX_CHUNK_BYTES: '4096',
    MAX_FRAME_BYTES: '1024',
  });
  const publisher = memoryPublisher(server);
  const client = await server.connect();
  await client.start({ interactionId: 'call-mixed' });
  const frames = sendFrames(client, 1, 1, 4, 1024); // a full chunk: flushed by size
  await waitForCommitted(client, 4);
  frames.push(...sendFrames(client, 1, 5, 2, 1024)); // half a chunk: only the timer can flush it
  await waitForCommitted(client, 6);
  assert.deepEqual(
    audioOf(publisher, 'call-mixed').map((r) => [r.seq_start, r.seq_end]),
    [
      [1, 4],
      [5, 6],
    ],
  );
  assertCovers(audioOf(publisher, 'call-mixed'), frames);
  await client.stop();
});

test(
  '2 records of each stream are published in order, with ' + 'contiguous seq ranges and byte-exact payloads',
  async (t) => {
    const server = await startTestServer(t, { MAX_CHUNK_BYTES: '4096', MAX_FRAME_BYTES: '1024' });
    const publisher = memoryPublisher(server);
    const a = await server.connect();
    const b = await server.connect();
    await a.start({ interactionId: 'call-a', firstSeq: 1 });
    await b.start({ interactionId: 'call-b', firstSeq: 500 });
    const sentA: Buffer[] = [];
    const sentB: Buffer[] = [];
    // Interleaved, with sizes that never line up with the chunk size.
    for (let i = 0; i < 60; i++) {
      sentA.push(...sendFrames(a, 1, 1 + i, 1, (seq) => 100 + ((seq * 137) % 900)));
      sentB.push(...sendFrames(b, 2, 500 + i, 1, (seq) => 50 + ((seq * 71) % 970)));
    }
    const [stopA, stopB] = await Promise.all([a.stop(), b.stop()]);
    assert.deepEqual(stopA.stopped, { type: 'stopped', last_seq: 60, frames: 60 });
    assert.deepEqual(stopB.stopped, { type: 'stopped', last_seq: 559, frames: 60 });
    for (const [id, sent, firstSeq] of [
      ['call-a', sentA, 1],
      ['call-b', sentB, 500],
    ] as const) {
      const records = recordsOf(publisher, id);
      assert.equal(records[0]?.type, 'stream_started');
      assert.equal(records.at(-1)?.type, 'stream_ended');
      const audio = audioOf(publisher, id);
      assert.ok(audio.length > 1, 'more than one record');
      assert.equal(new Set(records.map((r) => r.stream_id)).size, 1, 'one stream_id per stream');
      assertCovers(audio, [...sent], firstSeq);
    }
  },
);

test(
  '3 records carry type, tenant_id, interaction_id, stream_id, ' + 'source and received_at, plus their own fields',
  async (t) => {
    const server = await startTestServer(t);
    const publisher = memoryPublisher(server);
    const client = await server.connect();
    const metadata = { agent_id: 'a-7', queue: { name: 'sales', priority: 2 } };
    const started = await client.start({
      interactionId: 'call-fields',
      encoding: 'mulaw',
      sampleRate: 16000,
      channels: 2,
      metadata,
    });
    const frames = sendFrames(client, 1, 1, 5);
    await client.stop();
    const records = recordsOf(publisher, 'call-fields');
    assert.deepEqual(
      records.map((r) => r.type),
      ['stream_started', 'audio', 'stream_ended'],
    );
    for (const record of records) {
      assert.equal(record.tenant_id, DEFAULT_TENANT);
      assert.equal(record.interaction_id, 'call-fields');
      assert.equal(record.stream_id, started.stream_id);
      assert.match(record.stream_id, UUID);
      assert.equal(record.source, 'native');
      assert.match(record.received_at, ISO);
    }
    const [startedRecord, audio, ended] = records;
    const base = ['type', 'tenant_id', 'interaction_id', 'stream_id', 'source', 'received_at'];
    assert.deepEqual(
      Object.keys(startedRecord).sort(),
      [...base, 'encoding', 'sample_rate', 'channels', 'first_seq', 'metadata'].sort(),
    );
    assert.deepEqual(startedRecord, {
      ...startedRecord,
      encoding: 'mulaw',
      sample_rate: 16000,
      channels: 2,
      first_seq: 1,
      metadata,
    });
    assert.deepEqual(
      Object.keys(audio).sort(),
      [
        ...base,
        'seq_start',
        'seq_end',
        'frames',
        'encoding',
        'sample_rate',
        'channels',
        'frame_bytes',
        'payload',
      ].sort(),
    );
    assert.deepEqual(
      { ...audio, payload: undefined },
      {
        ...audio,
        payload: undefined,
        seq_start: 1,
        seq_end: 5,
        frames: 5,
        encoding: 'mulaw',
        sample_rate: 16000,
        channels: 2,
      },
    );
    assert.ok((audio as AudioRecord).payload.equals(Buffer.concat(frames)));
    assert.deepEqual(Object.keys(ended).sort(), [...base, 'last_seq', 'frames', 'reason'].sort());
    assert.deepEqual(ended, { ...ended, last_seq: 5, frames: 5, reason: 'stop' });
  },
);

test(
  '3 a client that closes without stop still gets its frames ' +
    'published, and the stream ends with reason client_closed',
  async (t) => {
    const server = await startTestServer(t);
    const publisher = memoryPublisher(server);
    const client = await server.connect();
    await client.start({ interactionId: 'call-hangup' });
    const frames = sendFrames(client, 1, 1, 9);
    client.close(1000);
    const ended = await waitForRecord(publisher, endOf('call-hangup'));
    assert.deepEqual(
      { reason: ended.reason, last_seq: ended.last_seq, frames: ended.frames },
      { reason: 'client_closed', last_seq: 9, frames: 9 },
    );
    assertCovers(audioOf(publisher, 'call-hangup'), frames);
  },
);

test(
  '2 while the backend fails, frames are still acked and health is degraded; ' +
    'once it recovers everything is committed and published',
  async (t) => {
    const server = await startTestServer(t, { ACK_INTERVAL: '10', MAX_CHUNK_BYTES: '4096', MAX_FRAME_BYTES: '1024' });
    const publisher = memoryPublisher(server);
    const client = await server.connect();
    await client.start({ interactionId: 'call-outage' });
    publisher.setFailing(true);
    try {
      const frames = sendFrames(client, 1, 1, 20, 1000);
      await client.waitForMessage((m) => m.type === 'ack' && m.seq === 20);
      assert.equal(client.lastCommitted(), 0, 'nothing is committed while the backend fails');
      assert.equal(audioOf(publisher, 'call-outage').length, 0);
      const health = await httpGet(`http://127.0.0.1:${server.port}/health`);
      assert.equal(health.status, 200);
      assert.equal((JSON.parse(health.body) as { status: string }).status, 'degraded');

      publisher.setFailing(false);
      await waitForCommitted(client, 20);
      const { stopped } = await client.stop();
      assert.deepEqual(stopped, { type: 'stopped', last_seq: 20, frames: 20 });
      assertCovers(audioOf(publisher, 'call-outage'), frames);
      const records = recordsOf(publisher, 'call-outage');
      assert.equal(records[0]?.type, 'stream_started');
      assert.equal(records.at(-1)?.type, 'stream_ended');
      assert.equal(
        (JSON.parse((await httpGet(`http://127.0.0.1:${server.port}/health`)).body) as { status: string }).status,
        'healthy',
      );
    } finally {
      publisher.setFailing(false);
    }
  },
);

test(
  '2 at MAX_STREAM_BACKLOG_BYTES the server stops reading, closes with 1013 after ' +
    'BACKPRESSURE_TIMEOUT_MS, and every acked frame is published later',
  async (t) => {
    const server = await startTestServer(t, {
      ACK_INTERVAL: '1',
      MAX_FRAME_BYTES: '1024',
      MAX_CHUNK_BYTES: '1024',
      MAX_STREAM_BACKLOG_BYTES: '4096',
      BACKPRESSURE_TIMEOUT_MS: '200',
    });
    const publisher = memoryPublisher(server);
    const client = await server.connect();
    await client.start({ interactionId: 'call-backlog' });
    publisher.setFailing(true);
    try {
      const total = 300;
      const frames = sendFrames(client, 1, 1, total, 1024);
      const { code } = await client.closed;
      assert.equal(code, 1013);
      const error = client.messages.find((m) => m.type === 'error');
      assert.equal(error?.code, 'backlog_full');
      const acked = Math.max(0, ...client.messages.filter((m) => m.type === 'ack').map((m) => Number(m.seq)));
      assert.ok(acked >= 4, `frames up to the backlog limit were acked (${acked})`);
      assert.ok(acked < total, `reading stopped: ${acked} of ${total} frames were read`);
      assert.ok(
        server.logs.some(
          (l) => l.msg === 'backlog limit reached: reading paused' && l.interaction_id === 'call-backlog',
        ),
      );

      publisher.setFailing(false);
      const ended = await waitForRecord(publisher, endOf('call-backlog'));
      assert.equal(ended.reason, 'error');
      assert.equal(ended.last_seq, acked, 'every frame the server read was acked, and is published');
      assertCovers(audioOf(publisher, 'call-backlog'), frames.slice(0, acked));
    } finally {
      publisher.setFailing(false);
    }
  },
);

test(
  '2 when the backlog drains before BACKPRESSURE_TIMEOUT_MS, ' + 'reading resumes and the stream goes on without loss',
  async (t) => {
    const server = await startTestServer(t, {
      ACK_INTERVAL: '1',
      MAX_FRAME_BYTES: '1024',
      MAX_CHUNK_BYTES: '1024',
      MAX_STREAM_BACKLOG_BYTES: '4096',
      BACKPRESSURE_TIMEOUT_MS: '60000',
    });
    const publisher = memoryPublisher(server);
    const client = await server.connect();
    await client.start({ interactionId: 'call-resume' });
    publisher.setFailing(true);
    let frames: Buffer[];
    try {
      frames = sendFrames(client, 1, 1, 200, 1024);
      // The fourth frame fills the backlog: reading pauses in the same step that acks it.
      await client.waitForMessage((m) => m.type === 'ack' && m.seq === 4);
      assert.ok(server.logs.some((l) => l.msg === 'backlog limit reached: reading paused'));
    } finally {
      publisher.setFailing(false);
    }
    await client.waitForMessage((m) => m.type === 'ack' && m.seq === 200);
    const { stopped, close } = await client.stop();
    assert.equal(close.code, 1000);
    assert.deepEqual(stopped, { type: 'stopped', last_seq: 200, frames: 200 });
    assert.ok(server.logs.some((l) => l.msg === 'backlog below its limit: reading resumed'));
    assertCovers(audioOf(publisher, 'call-resume'), frames);
  },
);

test(
  '1.5 a stream paused at its backlog limit is not taken for a dead ' + 'peer: it closes with 1013, not a ping timeout',
  async (t) => {
    // Pings go unanswered only because the server itself stopped reading the socket.
    const server = await startTestServer(t, {
      PING_INTERVAL_MS: '300',
      ACK_INTERVAL: '1',
      MAX_FRAME_BYTES: '1024',
      MAX_CHUNK_BYTES: '1024',
      MAX_STREAM_BACKLOG_BYTES: '4096',
      BACKPRESSURE_TIMEOUT_MS: '1500', // five ping intervals while paused
    });
    const publisher = memoryPublisher(server);
    const client = await server.connect();
    await client.start({ interactionId: 'call-paused' });
    publisher.setFailing(true);
    try {
      const frames = sendFrames(client, 1, 1, 200, 1024);
      const { code } = await client.closed;
      assert.equal(code, 1013);
      publisher.setFailing(false);
      const ended = await waitForRecord(publisher, endOf('call-paused'));
      assert.equal(ended.reason, 'error');
      assertCovers(audioOf(publisher, 'call-paused'), frames.slice(0, ended.last_seq));
    } finally {
      publisher.setFailing(false);
    }
  },
);
