/**
 * What a worker's unpublished data may cost it (issue 10, hole 1): every
 * record counts in a stream's backlog, the worker's total counts live and
 * closed sessions alike and pauses live streams at MAX_WORKER_BACKLOG_BYTES,
 * and a closed session's backlog is kept CLOSED_STREAM_RETENTION_MS at most,
 * then counted as lost and logged. Sessions on fake transports and a
 * scripted publisher, on node:test's mock clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PublishError } from '../../../src/shared/errors';
import type { IngestRecord } from '../../../src/shared/publishing/records';
import { recordBytes } from '../../../src/worker/stream/record-size';
import { WorkerBacklog } from '../../../src/worker/stream/worker-backlog';
import { frameOf, openSession, peerCloses, START, until, type Harness } from '../../support/session-harness';

function sizes(records: readonly IngestRecord[]): number {
  return records.reduce((sum, r) => sum + recordBytes(r), 0);
}

/** Fails every publish attempt so far as a transient error (an outage): the queues retry on the mock clock. */
function failPending(h: Harness): void {
  for (const call of h.publisher.calls) call.reject(new PublishError('connection lost', true));
}

test('every record kind counts toward the backlog: stream_started, dtmf, mark, audio and stream_ended', async (t) => {
  const h = openSession(t, { messages: null }); // a telephony source: events, no replies
  h.session.begin(START);
  h.session.event((base) => ({ ...base, type: 'dtmf', digit: '5', duration_ms: 120 }));
  h.session.event((base) => ({ ...base, type: 'mark', name: 'greeting-played' }));
  h.session.frame(frameOf(10));
  const stopping = h.session.stop();
  // Nothing is confirmed yet: every record is unpublished.
  const unpublished = h.session.unpublishedBytes;
  const backlog = h.backlog.bytes;
  h.publisher.confirmAll();
  await stopping;
  const records = h.publisher.records();
  assert.deepEqual(
    records.map((r) => r.type),
    ['stream_started', 'dtmf', 'mark', 'audio', 'stream_ended'],
  );
  for (const record of records) assert.ok(recordBytes(record) >= 10, `${record.type} weighs something`);
  assert.equal(unpublished, sizes(records), 'the audio payload and the encoded size of every other record');
  assert.equal(backlog, unpublished, "the worker's total holds the same");
  assert.deepEqual([h.session.unpublishedBytes, h.backlog.bytes], [0, 0], 'and both fall to zero once confirmed');
});

test('a source sending only events fills its backlog and is paused at MAX_STREAM_BACKLOG_BYTES', (t) => {
  const h = openSession(t, { messages: null, limits: { maxStreamBacklogBytes: 2000 } });
  h.session.begin(START);
  let sent = 0;
  while (!h.transport.paused && sent < 1000) {
    h.session.event((base) => ({ ...base, type: 'mark', name: `mark-${sent++}` }));
  }
  assert.equal(h.transport.paused, true, 'paused by events alone');
  assert.ok(sent < 40, `paused after ${sent} marks of about a hundred bytes each`);
  assert.ok(h.logs.some((l) => l.msg === 'backlog limit reached: reading paused'));
});

test("the worker's backlog counts live and closed sessions alike, and falls as the backend confirms", async (t) => {
  const h = openSession(t);
  const other = h.another();
  h.session.begin(START);
  other.session.begin({ ...START, interactionId: 'call-2', streamId: 'stream-2' });
  h.session.frame(frameOf(1000, 1)); // flushed by size
  other.session.frame(frameOf(500, 2)); // buffered
  peerCloses(h, 1006); // closed: its data is still to publish
  assert.equal(h.backlog.bytes, h.session.unpublishedBytes + other.session.unpublishedBytes);
  assert.ok(h.backlog.bytes >= 1500);
  h.publisher.confirmAll();
  await until(() => h.finished.length === 1, 'the closed session published and finished');
  assert.equal(h.backlog.bytes, other.session.unpublishedBytes, 'only the live one is left');
  await other.session.stop();
  assert.equal(h.backlog.bytes, 0);
});

test('at MAX_WORKER_BACKLOG_BYTES a live stream stops reading, and reads again once the total is below', async (t) => {
  const h = openSession(t, { workerBacklogBytes: 2200 });
  const live = h.another();
  h.session.begin(START);
  for (let i = 1; i <= 2; i++) h.session.frame(frameOf(1000, i));
  peerCloses(h, 1006); // a client that dropped: 2000 bytes and more still to publish
  live.session.begin({ ...START, interactionId: 'call-2', streamId: 'stream-2' });
  live.session.frame(frameOf(100, 1));
  assert.ok(h.backlog.full, `the worker holds ${h.backlog.bytes} bytes`);
  assert.equal(live.transport.paused, true, 'paused although the stream itself is far under its own limit');
  assert.ok(live.session.unpublishedBytes < 1000);
  assert.equal(h.backlog.waitingStreams, 1);
  assert.ok(h.logs.some((l) => l.msg === 'worker backlog limit reached: reading paused'));
  h.publisher.confirmAll(); // the backend is back: the closed session's data goes out
  await until(() => !live.transport.paused, 'reading resumed');
  assert.ok(!h.backlog.full);
  assert.equal(h.backlog.waitingStreams, 0);
  assert.ok(h.logs.some((l) => l.msg === 'worker backlog below its limit: reading resumed'));
});

test('a stream paused by the worker limit for BACKPRESSURE_TIMEOUT_MS is closed with 1013 backlog_full', (t) => {
  const h = openSession(t, { workerBacklogBytes: 1500 });
  const live = h.another();
  h.session.begin(START);
  h.session.frame(frameOf(1000, 1));
  h.session.frame(frameOf(600, 2));
  peerCloses(h, 1006);
  live.session.begin({ ...START, interactionId: 'call-2', streamId: 'stream-2' });
  live.session.frame(frameOf(100, 1));
  assert.equal(live.transport.paused, true);
  t.mock.timers.tick(499);
  assert.equal(live.session.streaming, true);
  t.mock.timers.tick(1);
  assert.equal(live.transport.closedWith?.code, 1013);
  const error = live.transport.replies().at(-1);
  assert.equal(error?.code, 'backlog_full');
  assert.match(String(error?.message), /worker's unpublished backlog/);
  assert.equal(h.backlog.waitingStreams, 0, 'no longer waiting for the worker');
});

test(
  "a closed stream's backlog is kept CLOSED_STREAM_RETENTION_MS, then given up: counted lost, logged once " +
    'with its ids and seq range',
  async (t) => {
    const h = openSession(t, { limits: { closedStreamRetentionMs: 5000 } });
    h.session.begin(START);
    for (let i = 1; i <= 5; i++) h.session.frame(frameOf(1000, i)); // five audio records, 1-5
    failPending(h); // the backend is down: stream_started is retried with backoff
    peerCloses(h, 1006);
    assert.equal(h.stats.streamsRetained, 1);
    const unpublished = h.session.unpublishedBytes;
    t.mock.timers.tick(4999);
    assert.equal(h.finished.length, 0, 'still kept, still retried');
    failPending(h);
    t.mock.timers.tick(1);
    await until(() => h.finished.length === 1, 'the session gave up and finished');
    assert.equal(h.stats.lostBytes.get('retention_expired'), unpublished);
    assert.equal(h.stats.lostFrames.get('retention_expired'), 5);
    const lines = h.logs.filter((l) => l.msg.startsWith('closed stream not published within'));
    assert.equal(lines.length, 1, 'logged once');
    assert.deepEqual(
      [lines[0].tenant_id, lines[0].interaction_id, lines[0].stream_id, lines[0].lost_seq_start, lines[0].lost_seq_end],
      ['tenant-a', 'call-1', 'stream-1', 1, 5],
    );
    assert.equal(lines[0].level, 50, 'an error: data the client was acked for is gone');
    assert.deepEqual([h.backlog.bytes, h.stats.streamsRetained], [0, 0]);
    const attempts = h.publisher.calls.length;
    t.mock.timers.tick(60_000);
    assert.equal(h.publisher.calls.length, attempts, 'no retry after giving up');
  },
);

test('a closed stream that publishes within CLOSED_STREAM_RETENTION_MS loses nothing', async (t) => {
  const h = openSession(t, { limits: { closedStreamRetentionMs: 5000 } });
  h.session.begin(START);
  h.session.frame(frameOf(1000, 1));
  peerCloses(h, 1006);
  h.publisher.confirmAll();
  await until(() => h.finished.length === 1, 'published and finished');
  t.mock.timers.tick(10_000);
  assert.equal(h.stats.lostBytes.size, 0);
  assert.equal(h.stats.streamsRetained, 0);
});

test('WorkerBacklog resumes every waiting stream once, when the total falls below the limit', () => {
  const backlog = new WorkerBacklog(100);
  const resumed: string[] = [];
  backlog.add(100);
  assert.equal(backlog.full, true);
  backlog.wait(() => resumed.push('a'));
  backlog.wait(() => resumed.push('b'));
  const c = (): void => void resumed.push('c');
  backlog.wait(c);
  backlog.cancel(c);
  backlog.add(10);
  backlog.add(-10);
  assert.deepEqual(resumed, [], 'still at the limit');
  backlog.add(-1);
  assert.deepEqual(resumed, ['a', 'b']);
  backlog.add(-50);
  assert.deepEqual(resumed, ['a', 'b'], 'once');
  assert.equal(backlog.bytes, 49);
});
