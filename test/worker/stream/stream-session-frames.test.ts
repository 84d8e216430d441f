/**
 * StreamSession while it streams: when frames become records, acks and
 * commits, source-numbered frames, events, and back-pressure's effect on the
 * liveness watches. Driven through a fake transport and a scripted publisher.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngestError } from '../../../src/shared/errors';
import { ServerMessages } from '../../../src/shared/protocol';
import type { AudioRecord } from '../../../src/shared/publishing/records';
import { frameOf, openSession, peerCloses, START, typesOf, until, type Harness } from '../../support/session-harness';

/** Begins the stream and waits until the backend confirmed stream_started: later records publish at once. */
async function beginConfirmed(h: Harness): Promise<void> {
  h.publisher.confirmAll();
  h.session.begin(START);
  await until(() => h.stats.recordsPublished.get('in_memory|stream_started') === 1, 'stream_started confirmed');
}

/** Waits until the backend confirmed `count` audio records: the queue is idle, the next flush publishes at once. */
function audioConfirmed(h: Harness, count: number): Promise<void> {
  return until(() => h.stats.recordsPublished.get('in_memory|audio') === count, `${count} audio confirmed`);
}

function audioRanges(h: Harness): Array<[number, number]> {
  return h.publisher
    .records()
    .filter((r): r is AudioRecord => r.type === 'audio')
    .map((r) => [r.seq_start, r.seq_end]);
}

test('frames become one audio record as soon as the buffer holds MAX_CHUNK_BYTES', async (t) => {
  const h = openSession(t);
  await beginConfirmed(h);
  const frames = [frameOf(400, 1), frameOf(400, 2), frameOf(400, 3)];
  h.session.frame(frames[0]);
  h.session.frame(frames[1]);
  assert.deepEqual(audioRanges(h), [], '800 bytes stay buffered');
  h.session.frame(frames[2]);
  assert.deepEqual(audioRanges(h), [[1, 3]]);
  const audio = h.publisher.records()[1] as AudioRecord;
  assert.equal(audio.frames, 3);
  assert.ok(audio.payload.equals(Buffer.concat(frames)), 'the payload is the frames concatenated in order');
});

test('frames are flushed BUFFER_DURATION_MS after the first frame of each record', async (t) => {
  const h = openSession(t);
  await beginConfirmed(h);
  const firstAt = new Date().toISOString();
  h.session.frame(frameOf(10));
  t.mock.timers.tick(50);
  h.session.frame(frameOf(10));
  t.mock.timers.tick(49);
  assert.deepEqual(audioRanges(h), [], 'the oldest frame is 99 ms old');
  t.mock.timers.tick(1);
  assert.deepEqual(audioRanges(h), [[1, 2]]);
  assert.equal(h.publisher.records()[1].received_at, firstAt, 'received_at is when the oldest frame arrived');
  await audioConfirmed(h, 1);
  t.mock.timers.tick(500);
  h.session.frame(frameOf(10));
  t.mock.timers.tick(99);
  assert.deepEqual(audioRanges(h), [[1, 2]]);
  t.mock.timers.tick(1);
  assert.deepEqual(
    audioRanges(h),
    [
      [1, 2],
      [3, 3],
    ],
    'the timer is armed again for the next record',
  );
});

test('a flush by size leaves the next record a full BUFFER_DURATION_MS of its own', async (t) => {
  const h = openSession(t);
  await beginConfirmed(h);
  h.session.frame(frameOf(1000)); // a full chunk: flushed at once
  await audioConfirmed(h, 1);
  t.mock.timers.tick(60);
  h.session.frame(frameOf(10));
  t.mock.timers.tick(40); // 100 ms after the first record began
  assert.deepEqual(audioRanges(h), [[1, 1]], 'the first record timer does not flush the second');
  t.mock.timers.tick(60);
  assert.deepEqual(audioRanges(h), [
    [1, 1],
    [2, 2],
  ]);
});

test('every ACK_INTERVAL-th frame is acked; a confirmed audio record is `committed` by its seq_end', async (t) => {
  const h = openSession(t); // ACK_INTERVAL 2; 500-byte frames: two per record
  h.session.begin(START);
  for (let i = 1; i <= 5; i++) h.session.frame(frameOf(500, i));
  assert.deepEqual(h.transport.replies().slice(1), [
    { type: 'ack', seq: 2 },
    { type: 'ack', seq: 4 },
  ]);
  assert.equal(h.stats.acksSent, 2);
  (await h.publisher.nthCall(1)).resolve(); // stream_started: nothing to commit
  (await h.publisher.nthCall(2)).resolve();
  (await h.publisher.nthCall(3)).resolve();
  await until(() => h.transport.sent.length === 5, 'two commits');
  assert.deepEqual(h.transport.replies().slice(3), [
    { type: 'committed', seq: 2 },
    { type: 'committed', seq: 4 },
  ]);
});

test('a source that gets no replies (telephony) is sent nothing at all, not even acks', async (t) => {
  const h = openSession(t, { messages: null });
  h.publisher.confirmAll();
  h.session.begin(START);
  for (let i = 1; i <= 4; i++) h.session.frame(frameOf(500, i));
  await h.session.stop();
  assert.deepEqual(h.transport.sent, []);
  assert.equal(h.stats.acksSent, 0);
  assert.deepEqual(h.transport.closedWith, { code: 1000, reason: 'stream stopped' });
});

test('a legacy start switches every reply to the event dialect', (t) => {
  const h = openSession(t);
  h.session.begin(START, new ServerMessages('legacy'));
  h.session.frame(frameOf(10));
  h.session.frame(frameOf(10));
  assert.deepEqual(h.transport.replies(), [
    { event: 'started', stream_id: 'stream-1', interaction_id: 'call-1', next_seq: 1 },
    { event: 'ack', seq: 2 },
  ]);
});

test('frameAt drops a seq already seen, counts a jump forward as a gap, numbers frames as the source', async (t) => {
  const h = openSession(t);
  h.publisher.confirmAll();
  h.session.begin(START);
  const outcomes = [1, 1, 4, 5].map((seq) => h.session.frameAt(frameOf(10, seq), seq));
  assert.deepEqual(outcomes, ['accepted', 'duplicate', 'gap', 'accepted']);
  assert.equal(h.stats.duplicateFrames, 1);
  assert.equal(h.stats.sequenceGaps.get('native'), 1);
  await h.session.stop();
  const ended = h.publisher.records().at(-1);
  assert.deepEqual(ended, { ...ended, last_seq: 5, frames: 3 });
});

test("3 a record's frames are numbered without gaps: a source's gap starts a new audio record", async (t) => {
  const h = openSession(t);
  h.publisher.confirmAll();
  h.session.begin(START);
  for (const seq of [1, 2, 4, 5, 9]) h.session.frameAt(frameOf(10, seq), seq);
  await h.session.stop();
  assert.deepEqual(audioRanges(h), [
    [1, 2],
    [4, 5],
    [9, 9],
  ]);
  for (const record of h.publisher.records()) {
    if (record.type === 'audio') assert.equal(record.frames, record.seq_end - record.seq_start + 1);
  }
});

test('an event record goes out in its place: the frames received before it are flushed first', async (t) => {
  const h = openSession(t);
  h.session.event((base) => ({ ...base, type: 'mark', name: 'before start' }));
  assert.equal(h.publisher.calls.length, 0, 'a stream that has not started has no events');
  h.publisher.confirmAll();
  h.session.begin(START);
  h.session.frame(frameOf(10));
  h.session.frame(frameOf(10));
  h.session.event((base) => ({ ...base, type: 'mark', name: 'm1' }));
  h.session.frame(frameOf(10));
  await h.session.stop();
  assert.deepEqual(typesOf(h.publisher.records()), ['stream_started', 'audio', 'mark', 'audio', 'stream_ended']);
  assert.deepEqual(audioRanges(h), [
    [1, 2],
    [3, 3],
  ]);
  const mark = h.publisher.records()[2];
  assert.deepEqual([mark.tenant_id, mark.interaction_id, mark.stream_id], ['tenant-a', 'call-1', 'stream-1']);
});

test('reading resumes once confirmations bring the backlog under MAX_STREAM_BACKLOG_BYTES', async (t) => {
  const h = openSession(t);
  h.session.begin(START);
  for (let i = 1; i <= 3; i++) h.session.frame(frameOf(1000, i));
  assert.equal(h.transport.paused, true);
  (await h.publisher.nthCall(1)).resolve(); // stream_started carries no bytes
  (await h.publisher.nthCall(2)).resolve();
  await until(() => !h.transport.paused, 'reading resumed');
  assert.equal(h.session.unpublishedBytes, 2000);
  assert.ok(h.logs.some((l) => l.msg === 'backlog below its limit: reading resumed'));
});

test('while reading is paused neither missing pongs nor IDLE_TIMEOUT_MS end the stream', async (t) => {
  const h = openSession(t, { limits: { backpressureTimeoutMs: 60_000 } });
  h.session.begin(START);
  for (let i = 1; i <= 3; i++) h.session.frame(frameOf(1000, i));
  assert.equal(h.transport.paused, true);
  let pings = 0;
  for (let i = 0; i < 3; i++)
    assert.equal(
      h.session.heartbeat(() => void pings++),
      true,
      'pongs sit unread',
    );
  assert.equal(pings, 0, 'a paused peer is not pinged');
  t.mock.timers.tick(10_000);
  assert.deepEqual([h.session.streaming, h.transport.isOpen], [true, true], 'frames sit unread: not idle');
});

test('abandon() returns the bytes never to be published, and lets an end waiting on the backend finish', async (t) => {
  const h = openSession(t);
  h.session.begin(START);
  for (let i = 1; i <= 3; i++) h.session.frame(frameOf(100, i));
  const stopping = h.session.stop(); // the backend never answers
  const unpublished = h.session.unpublishedBytes; // stream_started, the audio and stream_ended: every record counts
  assert.ok(unpublished > 300);
  assert.equal(h.session.abandon(), unpublished);
  assert.equal(h.stats.lostBytes.get('shutdown_deadline'), unpublished, 'counted as lost');
  await stopping;
  assert.equal(h.transport.isOpen, false);
});

test('a close that throws terminates the socket instead, so that the session still finishes', async (t) => {
  const h = openSession(t);
  h.transport.closeThrows = true;
  h.publisher.confirmAll();
  h.session.begin(START);
  await h.session.fail(new IngestError('invalid_message', 'text message is not valid JSON'));
  assert.equal(h.transport.terminated, true);
  assert.ok(h.logs.some((l) => l.msg === 'closing the socket failed: terminating it'));
  peerCloses(h, 1006);
  assert.deepEqual(h.finished, [h.session]);
});

test('a frame numbered past 2^53 - 1 ends the stream: seq_exhausted, 1008, the frames before it kept', async (t) => {
  const h = openSession(t);
  h.publisher.confirmAll();
  h.session.begin({ ...START, firstSeq: Number.MAX_SAFE_INTEGER - 1 });
  for (let i = 0; i < 3; i++) h.session.frame(frameOf(10, i));
  await h.session.stop();
  assert.equal(h.transport.closedWith?.code, 1008);
  assert.deepEqual(
    h.transport.replies().find((r) => r.type === 'error'),
    { type: 'error', code: 'seq_exhausted', message: `frame numbers past ${Number.MAX_SAFE_INTEGER}` },
  );
  assert.deepEqual(audioRanges(h), [[Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER]]);
});
