/**
 * protocol.md 1.4: when a stream resumes on a new connection, the old
 * connection's session publishes or gives up everything it held before the
 * new one's records of the same interaction are published (issue 10, hole 2).
 * Sessions of one worker on fake transports and a scripted publisher.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { PublishError } from '../../../src/shared/errors';
import type { IngestRecord } from '../../../src/shared/publishing/records';
import { InteractionOrder } from '../../../src/worker/stream/interaction-order';
import { RETRY_MAX_MS } from '../../../src/worker/stream/stream-publish-queue';
import type { StreamSession } from '../../../src/worker/stream/stream-session';
import type { FakeTransport } from '../../support/fake-transport';
import { frameOf, openSession, peerCloses, START, until, type Harness } from '../../support/session-harness';

/** Ten frames of 100 bytes make one audio record (MAX_CHUNK_BYTES 1000 in the harness). */
function sendFrames(session: StreamSession, from: number, to: number): void {
  for (let seq = from; seq <= to; seq++) session.frame(frameOf(100, seq & 0xff));
}

function closed(peer: { session: StreamSession; transport: FakeTransport }): void {
  peer.transport.isOpen = false;
  peer.session.onSocketClosed(1006);
}

/** Rejects, as transient, every attempt still waiting: the backend is down, every queue retries. */
function outage(h: Harness): void {
  for (const call of h.publisher.calls) call.reject(new PublishError('connection lost', true));
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `rounds` retry rounds of an outage: every attempt fails, and the retries come due. */
async function outageFor(
  h: Harness,
  t: { mock: { timers: { tick(ms: number): void } } },
  rounds: number,
  ms = RETRY_MAX_MS,
): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await turn();
    outage(h);
    await turn();
    t.mock.timers.tick(ms);
  }
  await turn();
  outage(h);
  await turn();
}

/** Long enough for every outage in these tests: only the retention test gives up. */
const RETENTION = { closedStreamRetentionMs: 600_000 };

/** Every publish attempt, as "stream:type:seq_start-seq_end", in the order they were made (retries repeat). */
function attemptOrder(h: Harness): string[] {
  return h.publisher.records().map((r: IngestRecord) => {
    const range = r.type === 'audio' ? `:${r.seq_start}-${r.seq_end}` : '';
    return `${r.stream_id}:${r.type}${range}`;
  });
}

function firstIndex(order: string[], streamId: string): number {
  return order.findIndex((entry) => entry.startsWith(`${streamId}:`));
}

function lastIndex(order: string[], streamId: string): number {
  let last = -1;
  order.forEach((entry, i) => {
    if (entry.startsWith(`${streamId}:`)) last = i;
  });
  return last;
}

test('1.4 a resumed stream publishes after its old session: the old 11-20 never after the new 11-25', async (t) => {
  const h = openSession(t, { limits: RETENTION });
  h.session.begin(START);
  sendFrames(h.session, 1, 10);
  (await h.publisher.nthCall(1)).resolve(); // stream_started
  (await h.publisher.nthCall(2)).resolve(); // 1-10: committed
  sendFrames(h.session, 11, 20); // acked, then the backend fails
  outage(h);
  peerCloses(h, 1006); // the client drops and resumes from 11 on another connection
  const resumed = h.another();
  resumed.session.begin({ ...START, streamId: 'stream-2', firstSeq: 11 });
  sendFrames(resumed.session, 11, 25);
  assert.ok(
    h.logs.some((l) => l.msg.startsWith('an earlier session of this interaction is still publishing')),
    'the new session says why it waits',
  );
  const stopping = resumed.session.stop();
  await outageFor(h, t, 5);
  assert.ok(h.logs.some((l) => l.msg === 'publish failed: retrying' && l.stream_id === 'stream-1'));
  assert.equal(
    firstIndex(attemptOrder(h), 'stream-2'),
    -1,
    `nothing of the new session sent during the outage: ${attemptOrder(h).join(' ')}`,
  );
  h.publisher.confirmAll(); // the backend is back
  t.mock.timers.tick(RETRY_MAX_MS);
  await stopping;
  const order = attemptOrder(h).filter((entry, i, all) => all.indexOf(entry) === i); // retries aside
  assert.deepEqual(order, [
    'stream-1:stream_started',
    'stream-1:audio:1-10',
    'stream-1:audio:11-20',
    'stream-1:stream_ended',
    'stream-2:stream_started',
    'stream-2:audio:11-20',
    'stream-2:audio:21-25',
    'stream-2:stream_ended',
  ]);
  assert.equal(resumed.transport.replies().at(-1)?.type, 'stopped');
});

test('1.4 a chain of reconnects publishes session after session, in the order they started', async (t) => {
  const h = openSession(t, { limits: RETENTION });
  const sessions = [h, h.another(), h.another()];
  sessions.forEach((peer, i) => {
    peer.session.begin({ ...START, streamId: `s-${i + 1}`, firstSeq: 1 + i * 5 });
    sendFrames(peer.session, 1 + i * 5, 10 + i * 5); // each resends half of the previous one's frames
    outage(h);
    closed(peer);
  });
  await outageFor(h, t, 3);
  h.publisher.confirmAll();
  t.mock.timers.tick(RETRY_MAX_MS);
  await until(() => h.finished.length === 3, 'every session published and finished');
  const order = attemptOrder(h);
  assert.ok(lastIndex(order, 's-1') < firstIndex(order, 's-2'), order.join(' '));
  assert.ok(lastIndex(order, 's-2') < firstIndex(order, 's-3'), order.join(' '));
  assert.equal(h.order.waiting, 0);
});

/**
 * A 3-second retention; stream-1 sent frames 1-10 while the backend was down and its client
 * went away; stream-2 resumed the interaction and sent 1-10 again, held behind stream-1.
 */
function resumedDuringOutage(t: TestContext): { h: Harness; resumed: ReturnType<Harness['another']> } {
  const h = openSession(t, { limits: { closedStreamRetentionMs: 3000 } });
  h.session.begin(START);
  sendFrames(h.session, 1, 10);
  outage(h);
  peerCloses(h, 1006);
  const resumed = h.another();
  resumed.session.begin({ ...START, streamId: 'stream-2', firstSeq: 1 });
  sendFrames(resumed.session, 1, 10);
  return { h, resumed };
}

test("1.4 the old session's retention expiry releases the new one, and its loss is counted", async (t) => {
  const { h, resumed } = resumedDuringOutage(t);
  await outageFor(h, t, 3, 1000);
  await until(() => h.finished.length === 1, 'the old session gave up');
  assert.ok((h.stats.lostBytes.get('retention_expired') ?? 0) > 1000);
  h.publisher.confirmAll();
  await until(() => attemptOrder(h).includes('stream-2:audio:1-10'), "the new session's records go out");
  assert.equal(lastIndex(attemptOrder(h), 'stream-1') < firstIndex(attemptOrder(h), 'stream-2'), true);
  await resumed.session.stop();
});

test("1.4 a held session's retention counts from its turn, not from the time it waited in line", async (t) => {
  const { h, resumed } = resumedDuringOutage(t);
  closed(resumed); // its client is gone too: both are retained from the same moment
  await outageFor(h, t, 3, 1000);
  await until(() => h.finished.length === 1, 'the old session gave up');
  const lostByOld = h.stats.lostBytes.get('retention_expired');
  h.publisher.confirmAll();
  await until(() => h.finished.length === 2, 'the resumed session published everything and finished');
  assert.equal(h.stats.lostBytes.get('retention_expired'), lostByOld, 'nothing of the resumed session was given up');
  assert.ok(attemptOrder(h).includes('stream-2:audio:1-10'));
});

test('1.4 another interaction, or another track of a telephony call, is never held', async (t) => {
  const h = openSession(t);
  h.session.begin(START);
  peerCloses(h, 1006); // call-1 still has stream_started and stream_ended to publish
  const otherCall = h.another();
  otherCall.session.begin({ ...START, interactionId: 'call-2', streamId: 'stream-2' });
  await until(() => attemptOrder(h).includes('stream-2:stream_started'), 'call-2 publishes at once');
  assert.equal(h.order.waiting, 0);
});

test(
  '1.4 a telephony stream waits only for an earlier session of its own stream id, ' +
    'never for another track or fork of the call',
  async (t) => {
    const h = openSession(t, { limits: RETENTION });
    const track = (name: string, streamId: string) => {
      const peer = h.another('twilio');
      peer.session.begin({ ...START, streamId, metadata: { track: name } });
      return peer;
    };
    const inbound = track('inbound', 'CA1:inbound');
    await outageFor(h, t, 1);
    closed(inbound); // its records still to publish
    track('outbound', 'CA1:outbound');
    assert.equal(h.order.waiting, 0, 'the outbound track is not held by the inbound one');
    track('inbound', 'MZ2:inbound');
    assert.equal(h.order.waiting, 0, 'a second fork of the call (another stream id) is not held either');
    track('inbound', 'CA1:inbound');
    assert.equal(h.order.waiting, 1, 'the same stream id again waits for its old session');
  },
);

test('InteractionOrder: a waiting session that leaves does not release those behind it early', () => {
  const order = new InteractionOrder();
  const ready: string[] = [];
  const key = 'one sequence space';
  const a = order.join(key, () => ready.push('a'));
  const b = order.join(key, () => ready.push('b'));
  const c = order.join(key, () => ready.push('c'));
  assert.deepEqual([a.ready, b.ready, c.ready], [true, false, false]);
  b.done(); // gave up while waiting
  assert.deepEqual(ready, []);
  a.done();
  a.done();
  assert.deepEqual(ready, ['c']);
  c.done();
  assert.equal(order.waiting, 0);
  assert.equal(order.join(key, () => undefined).ready, true, 'an empty line is forgotten');
});
