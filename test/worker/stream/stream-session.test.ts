/**
 * StreamSession's state machine, on a fake transport and a scripted publisher:
 * awaiting_start → streaming → ending → closed, and every way out of
 * `streaming`. Each way out must flush the buffer before its stream_ended
 * record, close the socket as protocol.md says, and finish the session once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngestError, PublishError } from '../../../src/shared/errors';
import type { AudioRecord, EndReason } from '../../../src/shared/publishing/records';
import { recordBytes } from '../../../src/worker/stream/record-size';
import type { ScriptedPublisher } from '../../support/scripted-publisher';
import {
  endedRecord,
  frameOf,
  openSession,
  peerCloses,
  START,
  typesOf,
  until,
  type Harness,
} from '../../support/session-harness';

/**
 * Begins the stream and buffers frames 1-3 (300 bytes, under MAX_CHUNK_BYTES:
 * nothing flushed yet), behind its stream_started record (counted too).
 */
function beginWithBuffered(h: Harness): void {
  h.session.begin(START);
  for (let i = 1; i <= 3; i++) h.session.frame(frameOf(100, i));
  assert.equal(h.session.unpublishedBytes, 300 + recordBytes(h.publisher.records()[0]));
}

/** What beginWithBuffered buffered went out as one audio record, then stream_ended with `reason`. */
function assertFlushedThenEnded(publisher: ScriptedPublisher, reason: EndReason): void {
  const records = publisher.records();
  assert.deepEqual(typesOf(records), ['stream_started', 'audio', 'stream_ended']);
  const audio = records[1] as AudioRecord;
  assert.deepEqual([audio.seq_start, audio.seq_end, audio.frames, audio.payload.length], [1, 3, 3, 300]);
  const ended = endedRecord(publisher);
  assert.deepEqual(
    { reason: ended.reason, last_seq: ended.last_seq, frames: ended.frames },
    { reason, last_seq: 3, frames: 3 },
  );
}

test('begin takes awaiting_start to streaming: stream_started is published and `started` replied', (t) => {
  const { session, transport, publisher, stats } = openSession(t);
  assert.deepEqual([session.started, session.streaming, session.interactionId], [false, false, undefined]);
  session.begin(START);
  assert.deepEqual([session.started, session.streaming, session.interactionId], [true, true, 'call-1']);
  assert.equal(stats.streamsActive, 1);
  assert.deepEqual(transport.replies(), [
    { type: 'started', stream_id: 'stream-1', interaction_id: 'call-1', next_seq: 1 },
  ]);
  const [started] = publisher.records();
  assert.deepEqual(
    { ...started, received_at: undefined },
    {
      type: 'stream_started',
      tenant_id: 'tenant-a',
      interaction_id: 'call-1',
      stream_id: 'stream-1',
      source: 'native',
      received_at: undefined,
      encoding: 'pcm_s16le',
      sample_rate: 8000,
      channels: 1,
      first_seq: 1,
      metadata: { agent: 'a-1' },
    },
  );
});

test('begin takes the tenant from the start when the source learns it there, and makes up a stream_id', (t) => {
  const { session, publisher } = openSession(t);
  session.begin({ ...START, streamId: undefined, tenantId: 'tenant-from-start', firstSeq: 7 });
  const [started] = publisher.records();
  assert.equal(started.tenant_id, 'tenant-from-start');
  assert.match(started.stream_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  session.frame(frameOf(10));
  assert.equal(session.unpublishedBytes, 10 + recordBytes(started));
});

test('a socket closed before start goes straight to closed: nothing published, finished once', async (t) => {
  const h = openSession(t);
  const { session, transport, publisher, stats, finished } = h;
  peerCloses(h, 1006);
  assert.deepEqual(finished, [session]);
  assert.equal(stats.streamCloses.get('1006'), 1);
  await session.shutdown(1001, 'server shutting down');
  assert.equal(finished.length, 1, 'a later end does not finish it again');
  assert.deepEqual([publisher.calls.length, transport.sent.length, transport.closedWith], [0, 0, undefined]);
});

test('a failure before start replies the error and closes with its code, publishing nothing', async (t) => {
  const h = openSession(t);
  const { session, transport, publisher, finished } = h;
  await session.fail(new IngestError('start_timeout', 'no start message within 5000 ms'));
  assert.deepEqual(transport.replies(), [
    { type: 'error', code: 'start_timeout', message: 'no start message within 5000 ms' },
  ]);
  assert.deepEqual(transport.closedWith, { code: 1008, reason: 'no start message within 5000 ms' });
  assert.equal(publisher.calls.length, 0);
  assert.equal(finished.length, 0, 'not finished while the socket is still closing');
  peerCloses(h, 1008);
  assert.deepEqual(finished, [session]);
});

test('shutdown before start closes with the shutdown code at once: there is nothing to wait for', async (t) => {
  const { session, transport, publisher } = openSession(t);
  await session.shutdown(1001, 'server shutting down');
  assert.deepEqual(transport.closedWith, { code: 1001, reason: 'server shutting down' });
  assert.deepEqual([publisher.calls.length, transport.sent.length], [0, 0]);
});

test('stop flushes the buffer, waits for the backend, then replies `stopped` and closes 1000', async (t) => {
  const h = openSession(t);
  beginWithBuffered(h);
  const stopping = h.session.stop();
  assert.deepEqual([h.session.streaming, h.stats.streamsActive], [false, 0]);
  (await h.publisher.nthCall(1)).resolve();
  await h.publisher.nthCall(2); // the flushed audio, not confirmed yet
  assert.equal(h.transport.isOpen, true, 'no close before the backend confirmed everything');
  h.publisher.confirmAll();
  await stopping;
  assertFlushedThenEnded(h.publisher, 'stop');
  assert.deepEqual(h.transport.replies().slice(-2), [
    { type: 'committed', seq: 3 },
    { type: 'stopped', last_seq: 3, frames: 3 },
  ]);
  assert.deepEqual(h.transport.closedWith, { code: 1000, reason: 'stream stopped' });
  assert.equal(h.finished.length, 0);
  peerCloses(h, 1000);
  assert.deepEqual(h.finished, [h.session]);
});

test('a failure while streaming closes with its code at once, and still publishes the buffer', async (t) => {
  const h = openSession(t);
  beginWithBuffered(h);
  const failing = h.session.fail(new IngestError('frame_too_large', 'frame exceeds MAX_FRAME_BYTES (1024)'));
  assert.deepEqual(h.transport.closedWith, { code: 1009, reason: 'frame exceeds MAX_FRAME_BYTES (1024)' });
  assert.deepEqual(h.transport.replies().at(-1), {
    type: 'error',
    code: 'frame_too_large',
    message: 'frame exceeds MAX_FRAME_BYTES (1024)',
  });
  h.publisher.confirmAll();
  await failing;
  assertFlushedThenEnded(h.publisher, 'error');
  assert.equal(h.transport.replyTypes().at(-1), 'error', 'no `committed` is sent to a closing socket');
});

test('shutdown while streaming publishes everything, then closes with the given code and no `stopped`', async (t) => {
  const h = openSession(t);
  beginWithBuffered(h);
  const ending = h.session.shutdown(1012, 'service restarting');
  (await h.publisher.nthCall(1)).resolve();
  await h.publisher.nthCall(2);
  assert.equal(h.transport.isOpen, true, 'no close before the backend confirmed everything');
  h.publisher.confirmAll();
  await ending;
  assertFlushedThenEnded(h.publisher, 'shutdown');
  assert.deepEqual(h.transport.closedWith, { code: 1012, reason: 'service restarting' });
  assert.ok(!h.transport.replyTypes().includes('stopped'));
});

test('a client close while streaming ends as client_closed, publishes the buffer, sends no close', async (t) => {
  const h = openSession(t);
  beginWithBuffered(h);
  peerCloses(h, 1001);
  assert.deepEqual([h.session.streaming, h.stats.streamsActive], [false, 0]);
  assert.equal(h.stats.streamCloses.get('1001'), 1);
  assert.equal(h.finished.length, 0, 'not finished while records are unconfirmed');
  h.publisher.confirmAll();
  await until(() => h.finished.length === 1, 'the session finished');
  assertFlushedThenEnded(h.publisher, 'client_closed');
  assert.deepEqual([h.transport.closedWith, h.transport.terminated], [undefined, false]);
});

test('IDLE_TIMEOUT_MS idle ends as idle_timeout, closed 1000; frames and keepalives postpone it', async (t) => {
  const h = openSession(t, { limits: { bufferDurationMs: 60_000 } }); // only the end can flush
  h.publisher.confirmAll();
  h.session.begin(START);
  t.mock.timers.tick(1500);
  for (let i = 1; i <= 3; i++) h.session.frame(frameOf(100, i));
  t.mock.timers.tick(1000);
  h.session.keepalive();
  t.mock.timers.tick(1999);
  assert.equal(h.session.streaming, true, 'idle for less than IDLE_TIMEOUT_MS since the keepalive');
  t.mock.timers.tick(1);
  assert.equal(h.session.streaming, false);
  await until(() => h.transport.closedWith !== undefined, 'the socket closed');
  assert.deepEqual(h.transport.closedWith, { code: 1000, reason: 'idle timeout' });
  assertFlushedThenEnded(h.publisher, 'idle_timeout');
});

test('no pong between two heartbeats terminates the peer, and the stream ends as ping_timeout', async (t) => {
  const h = openSession(t);
  h.publisher.confirmAll();
  beginWithBuffered(h);
  const pings: Buffer[] = [];
  const ping = (payload: Buffer): void => void pings.push(payload);
  assert.equal(h.session.heartbeat(ping), true);
  h.session.pong(pings[0]);
  assert.equal(h.session.heartbeat(ping), true, 'it answered the first ping');
  assert.equal(h.session.heartbeat(ping), false, 'no pong since the second ping');
  assert.equal(pings.length, 2);
  assert.deepEqual([h.transport.terminated, h.transport.closedWith], [true, undefined]);
  peerCloses(h, 1006);
  await until(() => h.finished.length === 1, 'the session finished');
  assertFlushedThenEnded(h.publisher, 'ping_timeout');
});

test('a backlog at its limit for BACKPRESSURE_TIMEOUT_MS fails the stream: backlog_full, 1013', async (t) => {
  const h = openSession(t); // the backend confirms nothing
  h.session.begin(START);
  h.session.frame(frameOf(1000, 1));
  h.session.frame(frameOf(1000, 2));
  assert.equal(h.transport.paused, false, 'under the limit');
  h.session.frame(frameOf(1000, 3));
  assert.equal(h.transport.paused, true, 'reading paused at the limit');
  t.mock.timers.tick(499);
  assert.equal(h.session.streaming, true);
  t.mock.timers.tick(1);
  assert.equal(h.session.streaming, false);
  assert.equal(h.transport.closedWith?.code, 1013);
  assert.equal(h.transport.replies().at(-1)?.code, 'backlog_full');
  assert.equal(h.transport.paused, false, 'reading resumes: the peer close must be read');
  h.publisher.confirmAll();
  await until(() => h.publisher.records().at(-1)?.type === 'stream_ended', 'stream_ended published');
  assert.deepEqual(typesOf(h.publisher.records()), ['stream_started', 'audio', 'audio', 'audio', 'stream_ended']);
  assert.equal(endedRecord(h.publisher).reason, 'error');
});

test('a record refused for good ends the stream: error, close 1011, its backlog counted rejected', async (t) => {
  const h = openSession(t);
  h.session.begin(START);
  h.session.frame(frameOf(1000)); // flushed by size, queued behind stream_started
  (await h.publisher.nthCall(1)).reject(new PublishError('WRONGTYPE Operation against a key', false));
  await until(() => !h.transport.isOpen, 'the socket closed');
  assert.deepEqual(h.transport.closedWith, { code: 1011, reason: 'backend refused the data' });
  assert.equal(h.transport.replies().at(-1)?.code, 'backend_rejected');
  const backlog = 1000 + recordBytes(h.publisher.records()[0]); // the refused stream_started, and the audio after it
  assert.deepEqual([h.session.streaming, h.stats.streamsActive, h.stats.bytesRejected], [false, 0, backlog]);
  assert.equal(h.stats.publishErrors.get('in_memory|rejected'), 1);
  assert.equal(h.publisher.calls.length, 1, 'nothing more is sent after a refusal');
});

test('stop after the backend refused a record replies that error and closes 1011 instead of `stopped`', async (t) => {
  const h = openSession(t);
  beginWithBuffered(h);
  const stopping = h.session.stop();
  (await h.publisher.nthCall(1)).reject(new PublishError('refused', false));
  await stopping;
  assert.deepEqual(h.transport.closedWith, { code: 1011, reason: 'backend refused the data' });
  assert.equal(h.transport.replies().at(-1)?.code, 'backend_rejected');
  assert.ok(!h.transport.replyTypes().includes('stopped'));
});

test('the session finishes once: when its socket closed and every record settled, in either order', async (t) => {
  const h = openSession(t);
  beginWithBuffered(h);
  const stopping = h.session.stop();
  assert.equal(h.session.stop(), stopping, 'a second end is the first one');
  peerCloses(h, 1000); // the peer closes before the backend confirmed
  assert.equal(h.finished.length, 0, 'records still unconfirmed');
  h.publisher.confirmAll();
  await stopping;
  assert.deepEqual(h.finished, [h.session]);
  assert.equal(h.transport.closedWith, undefined, 'a closed socket is not closed again');
  assert.ok(!h.transport.replyTypes().includes('stopped'), 'nothing is sent to a closed socket');
  peerCloses(h, 1000);
  await h.session.shutdown(1001, 'server shutting down');
  assert.equal(h.finished.length, 1);
});
