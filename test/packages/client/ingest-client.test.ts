/**
 * The client's state machine against a fake WebSocket the test speaks for: start,
 * commits, resume after each kind of close, the memory cap, stop, close and abort.
 */
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  IngestClient,
  IngestClientError,
  type EventOf,
  type IngestClientEventType,
  type IngestClientOptions,
} from '../../../packages/client/src/index';
import type { Transport } from '../../../packages/client/src/transport';
import { FakeWebSocket } from './fake-websocket';

beforeEach(() => FakeWebSocket.reset());

function client(options: Partial<IngestClientOptions> = {}): IngestClient {
  return new IngestClient({
    url: 'ws://ingest.test/v1/ingest',
    token: 'jwt-1',
    interactionId: 'call-1',
    WebSocket: FakeWebSocket,
    backoff: { initialDelayMs: 1, maxDelayMs: 2, backendDelayMs: 1 },
    ...options,
  });
}

function next<T extends IngestClientEventType>(c: IngestClient, type: T): Promise<EventOf<T>> {
  return new Promise((resolve) => {
    const listener = (event: EventOf<T>): void => {
      c.off(type, listener);
      resolve(event);
    };
    c.on(type, listener);
  });
}

const frame = (seq: number, size = 4): Uint8Array => new Uint8Array(size).fill(seq % 256);
const isCode = (code: string) => (err: unknown) => err instanceof IngestClientError && err.code === code;

async function started(c: IngestClient): Promise<FakeWebSocket> {
  const starting = c.start();
  const ws = await FakeWebSocket.nth(0);
  ws.accept();
  await starting;
  return ws;
}

test('client: offers ingest.v1 and bearer.<jwt>, starts with the options, resolves on started', async () => {
  const c = client({ media: { encoding: 'mulaw', sampleRate: 16000, channels: 2 }, metadata: { a: 1 }, firstSeq: 7 });
  const starting = c.start();
  const ws = await FakeWebSocket.nth(0);
  assert.deepEqual(ws.protocols, ['ingest.v1', 'bearer.jwt-1']);
  const start = ws.accept('s-1');
  assert.deepEqual(start, {
    type: 'start',
    interaction_id: 'call-1',
    media: { encoding: 'mulaw', sample_rate: 16000, channels: 2 },
    first_seq: 7,
    metadata: { a: 1 },
  });
  assert.deepEqual(await starting, { streamId: 's-1', nextSeq: 7 });
  assert.equal(await c.send(frame(7)), 7);
  c.close();
});

test('client: frames are held until committed, acks and commits are reported and counted', async () => {
  const c = client();
  const ws = await started(c);
  const sent = [frame(1, 10), frame(2, 20), frame(3, 30)];
  for (const f of sent) await c.send(f);
  assert.deepEqual(ws.frames(), sent);
  assert.deepEqual(c.stats, {
    acked: 0,
    committed: 0,
    lastSeq: 3,
    uncommittedFrames: 3,
    uncommittedBytes: 60,
    reconnects: 0,
    reconnectAttempts: 0,
  });
  const acked = next(c, 'ack');
  ws.reply({ type: 'ack', seq: 2 });
  assert.deepEqual(await acked, { type: 'ack', seq: 2 });
  ws.reply({ type: 'committed', seq: 2 });
  assert.equal(c.stats.committed, 2);
  assert.equal(c.stats.uncommittedBytes, 30);
  c.close();
});

test('client: the frame is copied, so the caller may reuse its buffer', async () => {
  const c = client();
  const ws = await started(c);
  const buffer = new Uint8Array([1, 2, 3, 4]);
  await c.send(buffer.subarray(1, 3));
  buffer.fill(9);
  await c.send(buffer.buffer);
  assert.deepEqual(ws.frames(), [new Uint8Array([2, 3]), new Uint8Array([9, 9, 9, 9])]);
  c.close();
});

for (const code of [1001, 1006, 1011, 1012, 1013]) {
  test(`client: after ${code} it reconnects with a fresh token and resends from last committed + 1`, async () => {
    let tokens = 0;
    const c = client({ token: () => `jwt-${++tokens}` });
    const first = await started(c);
    for (let seq = 1; seq <= 5; seq++) await c.send(frame(seq));
    first.reply({ type: 'committed', seq: 2 });
    const reconnecting = next(c, 'reconnecting');
    const reconnected = next(c, 'reconnected');
    first.serverClose(code, 'going');
    const r = await reconnecting;
    assert.equal(r.attempt, 1);
    assert.equal(r.code, code);
    if (code === 1012) assert.equal(r.delayMs, 0, '1012: at once');
    const second = await FakeWebSocket.nth(1);
    assert.deepEqual(second.protocols, ['ingest.v1', 'bearer.jwt-2'], 'the provider is asked again');
    assert.equal(second.accept().first_seq, 3);
    assert.deepEqual(await reconnected, { type: 'reconnected', attempt: 1, nextSeq: 3, resent: 3 });
    assert.deepEqual(second.frames(), [frame(3), frame(4), frame(5)]);
    await c.send(frame(6));
    assert.deepEqual(second.frames().at(-1), frame(6));
    assert.equal(c.stats.reconnects, 1);
    assert.equal(c.stats.reconnectAttempts, 1);
    c.close();
  });
}

test('client: a connection that never answers started is dropped after connectTimeoutMs and retried', async () => {
  const c = client({ connectTimeoutMs: 5 });
  const starting = c.start();
  const first = await FakeWebSocket.nth(0);
  first.open();
  const r = await next(c, 'reconnecting');
  assert.equal(r.code, 1006);
  assert.ok(first.closedByClient, 'the silent connection is closed');
  (await FakeWebSocket.nth(1)).accept();
  assert.equal((await starting).nextSeq, 1);
  c.close();
});

test('client: stats.reconnects counts resumptions, stats.reconnectAttempts every attempt', async () => {
  const c = client();
  const first = await started(c);
  first.serverClose(1006);
  (await FakeWebSocket.nth(1)).serverClose(1006);
  (await FakeWebSocket.nth(2)).serverClose(1006);
  const reconnected = next(c, 'reconnected');
  (await FakeWebSocket.nth(3)).accept();
  await reconnected;
  assert.equal(c.stats.reconnects, 1);
  assert.equal(c.stats.reconnectAttempts, 3);
  c.close();
});

test('client: backoff.maxAttempts failed attempts in a row end the stream with reconnect_exhausted', async () => {
  const c = client({ backoff: { initialDelayMs: 1, maxDelayMs: 1, maxAttempts: 2 } });
  const starting = c.start();
  const closed = next(c, 'closed');
  (await FakeWebSocket.nth(0)).serverClose(1006);
  (await FakeWebSocket.nth(1)).serverClose(1006);
  (await FakeWebSocket.nth(2)).serverClose(1006);
  const event = await closed;
  assert.equal(event.error?.code, 'reconnect_exhausted');
  await assert.rejects(starting, isCode('reconnect_exhausted'));
  assert.equal(FakeWebSocket.instances.length, 3);
});

test('client: a service that answers started and then closes 1011 every time runs into maxAttempts', async () => {
  const c = client({ backoff: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 3, backendDelayMs: 5 } });
  const attempts: Array<EventOf<'reconnecting'>> = [];
  c.on('reconnecting', (e) => attempts.push(e));
  const closed = next(c, 'closed');
  const first = await started(c);
  await c.send(frame(1));
  first.serverClose(1011, 'backend refused the data');
  for (let i = 1; i <= 3; i++) {
    const ws = await FakeWebSocket.nth(i);
    ws.accept();
    assert.deepEqual(ws.frames(), [frame(1)], 'the refused frame is sent again');
    ws.serverClose(1011, 'backend refused the data');
  }
  const event = await closed;
  assert.equal(event.error?.code, 'reconnect_exhausted');
  assert.deepEqual(
    attempts.map((e) => e.attempt),
    [1, 2, 3],
    'a started that is closed again at once does not start a new outage',
  );
  assert.ok(
    attempts.every((e) => e.delayMs >= 5),
    'never sooner than backendDelayMs',
  );
  assert.equal(FakeWebSocket.instances.length, 4);
});

for (const code of [1011, 1013]) {
  test(`client: after ${code} the next attempt waits at least backoff.backendDelayMs (default 5000)`, async () => {
    const c = client({ backoff: { initialDelayMs: 1, maxDelayMs: 2 } });
    const ws = await started(c);
    const reconnecting = next(c, 'reconnecting');
    ws.serverClose(code);
    assert.ok((await reconnecting).delayMs >= 5000);
    c.close();
  });
}

test('client: a connection that proved healthy (a commit of its own frame) ends the outage count', async () => {
  const c = client({ backoff: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 2, backendDelayMs: 1 } });
  const attempts: number[] = [];
  c.on('reconnecting', (e) => attempts.push(e.attempt));
  let ws = await started(c);
  for (let i = 1; i <= 4; i++) {
    await c.send(frame(i));
    ws.reply({ type: 'committed', seq: i });
    ws.serverClose(1011);
    ws = await FakeWebSocket.nth(i);
    ws.accept();
  }
  assert.deepEqual(attempts, [1, 1, 1, 1]);
  c.close();
});

test('client: a connection open for 10 s after started proved healthy even with nothing committed', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const c = client({ backoff: { initialDelayMs: 1, maxDelayMs: 2, backendDelayMs: 1 } });
  const attempts: number[] = [];
  c.on('reconnecting', (e) => attempts.push(e.attempt));
  const first = await started(c);
  first.serverClose(1013);
  const second = await FakeWebSocket.nth(1);
  second.accept();
  t.mock.timers.setTime(1_000_000 + 9_000);
  second.serverClose(1013);
  const third = await FakeWebSocket.nth(2);
  third.accept();
  t.mock.timers.setTime(1_000_000 + 20_000);
  third.serverClose(1013);
  await FakeWebSocket.nth(3);
  assert.deepEqual(attempts, [1, 2, 1]);
  c.close();
});

/** A transport whose every upgrade is refused with `status` (what ws reports: a 1006 with the status). */
function refusing(status: number, retryAfterMs?: number): Transport {
  return {
    ready: () => Promise.resolve(),
    open: (_url, _token, handlers) => {
      queueMicrotask(() =>
        handlers.onClose({ code: 1006, reason: '', status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }),
      );
      return { send: () => undefined, close: () => undefined };
    },
  };
}

const options = { url: 'ws://ingest.test/v1/ingest', token: 'jwt-1', interactionId: 'call-1' } as const;

for (const status of [429, 503]) {
  test(`client: ${status} with Retry-After waits that plus a jittered backoff: refused clients spread`, async () => {
    const delays = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const c = new IngestClient(
          { ...options, backoff: { initialDelayMs: 200, maxDelayMs: 200 } },
          refusing(status, 1000),
        );
        const reconnecting = next(c, 'reconnecting');
        void c.start().catch(() => undefined);
        const event = await reconnecting;
        c.close();
        assert.equal(event.code, status);
        return event.delayMs;
      }),
    );
    assert.ok(
      delays.every((d) => d >= 1100 && d <= 1200),
      delays.join(' '),
    );
    assert.ok(new Set(delays).size > 1, 'not all at the same instant');
  });
}

test('client: reconnect_exhausted after refused upgrades carries the last HTTP status', async () => {
  const c = new IngestClient(
    { ...options, backoff: { initialDelayMs: 1, maxDelayMs: 1, maxAttempts: 2 } },
    refusing(503, 0),
  );
  const err = await c.start().then(
    () => assert.fail('started'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof IngestClientError && err.code === 'reconnect_exhausted', String(err));
  assert.equal(err.status, 503);
  assert.match(err.message, /HTTP 503/);
});

for (const code of [1008, 1009]) {
  test(`client: ${code} is fatal: closed with a protocol error, pending calls reject`, async () => {
    const c = client({ maxUncommittedBytes: 8, whenFull: 'wait' });
    const ws = await started(c);
    await c.send(frame(1, 8));
    const waiting = c.send(frame(2, 8));
    const stopping = c.stop();
    const closed = next(c, 'closed');
    ws.reply({ type: 'error', code: 'invalid_message', message: 'bad' });
    ws.serverClose(code, 'bad');
    const event = await closed;
    assert.equal(event.code, code);
    assert.equal(event.error?.code, 'protocol');
    assert.equal(event.error?.closeCode, code);
    assert.equal(event.error?.serverCode, 'invalid_message');
    await assert.rejects(waiting, isCode('protocol'));
    await assert.rejects(stopping, isCode('protocol'));
    await assert.rejects(c.send(frame(3)), isCode('protocol'));
    assert.equal(FakeWebSocket.instances.length, 1, 'no reconnect');
  });
}

test('client: a keepalive goes out in each keepaliveIntervalMs in which nothing else was sent', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const c = client({ keepaliveIntervalMs: 1000, maxUncommittedBytes: 4 });
  const ws = await started(c);
  const keepalives = (): number => ws.texts().filter((m) => m.type === 'keepalive').length;
  t.mock.timers.tick(1000);
  assert.equal(keepalives(), 1, 'a silent stream');
  await c.send(frame(1, 4));
  t.mock.timers.tick(1000);
  assert.equal(keepalives(), 1, 'a frame went out in that interval');
  const waiting = c.send(frame(2, 4));
  t.mock.timers.tick(1000);
  t.mock.timers.tick(1000);
  assert.equal(keepalives(), 3, 'while a send waits at the cap, nothing else goes out');
  ws.reply({ type: 'committed', seq: 1 });
  assert.equal(await waiting, 2);
  c.close();
  t.mock.timers.tick(5000);
  assert.equal(keepalives(), 3, 'none after close');
});

test('client: keepaliveIntervalMs 0 sends no keepalive', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const c = client({ keepaliveIntervalMs: 0 });
  const ws = await started(c);
  t.mock.timers.tick(600_000);
  assert.deepEqual(
    ws.texts().map((m) => m.type),
    ['start'],
  );
  c.close();
});

test('client: 1000 (idle timeout) while frames are held or sends wait resumes instead of losing them', async () => {
  const c = client({ maxUncommittedBytes: 4 });
  const first = await started(c);
  await c.send(frame(1, 4));
  const waiting = c.send(frame(2, 4));
  const reconnecting = next(c, 'reconnecting');
  first.serverClose(1000, 'idle timeout');
  assert.equal((await reconnecting).code, 1000);
  const second = await FakeWebSocket.nth(1);
  assert.equal(second.accept().first_seq, 1);
  second.reply({ type: 'committed', seq: 1 });
  assert.equal(await waiting, 2);
  assert.deepEqual(second.frames(), [frame(1, 4), frame(2, 4)]);
  c.close();
});

test('client: 1000 from the server without stop (idle timeout) ends the stream with closed', async () => {
  const c = client();
  const ws = await started(c);
  const closed = next(c, 'closed');
  ws.serverClose(1000, 'idle timeout');
  assert.equal((await closed).error?.code, 'closed');
});

test('client: a frame over maxFrameBytes is refused with frame_too_large and the stream goes on', async () => {
  const c = client({ maxFrameBytes: 100 });
  const ws = await started(c);
  await assert.rejects(c.send(new Uint8Array(101)), isCode('frame_too_large'));
  assert.equal(await c.send(new Uint8Array(100)), 1);
  assert.equal(ws.frames().length, 1);
  assert.equal(ws.closedByClient, undefined);
  c.close();
});

test("client: whenFull 'reject' refuses a frame past the cap with buffer_full", async () => {
  const c = client({ maxUncommittedBytes: 10, whenFull: 'reject' });
  const ws = await started(c);
  await c.send(frame(1, 6));
  await assert.rejects(c.send(frame(2, 6)), isCode('buffer_full'));
  ws.reply({ type: 'committed', seq: 1 });
  assert.equal(await c.send(frame(2, 6)), 2);
  c.close();
});

test("client: whenFull 'wait' holds send until a commit frees room; the cap is never passed", async () => {
  const c = client({ maxUncommittedBytes: 10, whenFull: 'wait' });
  const ws = await started(c);
  let peak = 0;
  const sample = (): void => void (peak = Math.max(peak, c.stats.uncommittedBytes));
  c.on('committed', sample);
  await c.send(frame(1, 6));
  let done = false;
  const waiting = c.send(frame(2, 6)).then((seq) => ((done = true), seq));
  const third = c.send(frame(3, 4));
  await Promise.resolve();
  assert.equal(done, false);
  assert.equal(ws.frames().length, 1);
  ws.reply({ type: 'committed', seq: 1 });
  assert.deepEqual(await Promise.all([waiting, third]), [2, 3]);
  assert.deepEqual(ws.frames(), [frame(1, 6), frame(2, 6), frame(3, 4)]);
  sample();
  assert.ok(peak <= 10);
  c.close();
});

test("client: whenFull 'wait' bounds waiting sends too: a caller not awaiting send gets buffer_full", async () => {
  const c = client({ maxUncommittedBytes: 40, whenFull: 'wait' });
  const ws = await started(c);
  // A worklet's onmessage calling send for every frame without awaiting it, while nothing is committed.
  const sends = Array.from({ length: 1000 }, (_, i) => c.send(frame(i + 1, 4)));
  const outcomes = await Promise.allSettled(sends.slice(0, 10));
  assert.ok(outcomes.every((o) => o.status === 'fulfilled'));
  const refused = await Promise.allSettled(sends.slice(20));
  assert.ok(refused.every((o) => o.status === 'rejected' && isCode('buffer_full')(o.reason)));
  assert.match(String((refused[0] as PromiseRejectedResult).reason), /await each send/);
  assert.equal(c.stats.uncommittedBytes, 40);
  ws.reply({ type: 'committed', seq: 10 });
  assert.deepEqual(await Promise.all(sends.slice(10, 20)), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  c.close();
});

test('client: maxFrameBytes over maxUncommittedBytes is refused; by default it is lowered to the cap', async () => {
  assert.throws(() => client({ maxUncommittedBytes: 100, maxFrameBytes: 101 }), isCode('invalid_options'));
  const c = client({ maxUncommittedBytes: 100 });
  await started(c);
  await assert.rejects(c.send(new Uint8Array(101)), isCode('frame_too_large'));
  assert.equal(await c.send(new Uint8Array(100)), 1);
  c.close();
});

test('client: stop sends stop after every frame, resolves on stopped, closed is the last event', async () => {
  const c = client();
  const seen: string[] = [];
  const iterated = (async () => {
    for await (const event of c.events()) seen.push(event.type);
  })();
  const ws = await started(c);
  await c.send(frame(1));
  await c.send(frame(2));
  const stopping = c.stop();
  await assert.rejects(c.send(frame(3)), isCode('closed'), 'no frame after stop');
  assert.deepEqual(ws.texts().at(-1), { type: 'stop' });
  ws.reply({ type: 'committed', seq: 2 });
  ws.reply({ type: 'stopped', last_seq: 2, frames: 2 });
  assert.deepEqual(await stopping, { lastSeq: 2, frames: 2 });
  await iterated;
  assert.deepEqual(seen, ['started', 'committed', 'closed']);
  assert.deepEqual(await c.stop(), { lastSeq: 2, frames: 2 }, 'stop again answers the same');
});

for (const [what, reply] of [
  [
    'a last_seq short of the last frame',
    [
      { type: 'committed', seq: 1 },
      { type: 'stopped', last_seq: 1, frames: 1 },
    ],
  ],
  [
    'frames still uncommitted',
    [
      { type: 'committed', seq: 1 },
      { type: 'stopped', last_seq: 2, frames: 2 },
    ],
  ],
] as const) {
  test(`client: a stopped with ${what} fails stop() with protocol instead of resolving it`, async () => {
    const c = client();
    const ws = await started(c);
    await c.send(frame(1));
    await c.send(frame(2));
    const stopping = c.stop();
    const closed = next(c, 'closed');
    for (const message of reply) ws.reply(message);
    await assert.rejects(stopping, isCode('protocol'));
    assert.equal((await closed).error?.code, 'protocol');
  });
}

test('client: a drop while stopping resumes and sends stop again on the new connection', async () => {
  const c = client();
  const first = await started(c);
  await c.send(frame(1));
  const stopping = c.stop();
  first.serverClose(1001, 'server shutting down');
  const second = await FakeWebSocket.nth(1);
  second.accept();
  assert.deepEqual(second.frames(), [frame(1)]);
  assert.deepEqual(second.texts().at(-1), { type: 'stop' });
  second.reply({ type: 'committed', seq: 1 });
  second.reply({ type: 'stopped', last_seq: 1, frames: 1 });
  assert.deepEqual(await stopping, { lastSeq: 1, frames: 1 });
});

test('client: a late committed or stopped from the connection it left changes nothing', async () => {
  const c = client();
  const first = await started(c);
  for (let seq = 1; seq <= 3; seq++) await c.send(frame(seq));
  first.serverClose(1006);
  const second = await FakeWebSocket.nth(1);
  second.accept();
  first.reply({ type: 'committed', seq: 3 });
  first.reply({ type: 'stopped', last_seq: 3, frames: 3 });
  assert.equal(c.stats.committed, 0);
  assert.equal(c.stats.uncommittedFrames, 3);
  assert.deepEqual(second.frames(), [frame(1), frame(2), frame(3)]);
  second.reply({ type: 'committed', seq: 3 });
  assert.equal(c.stats.uncommittedFrames, 0);
  c.close();
});

test('client: close() while connecting rejects start, closes the socket, and sends nothing when it opens', async () => {
  const c = client();
  const starting = c.start();
  const ws = await FakeWebSocket.nth(0);
  c.close();
  await assert.rejects(starting, isCode('closed'));
  assert.equal(ws.closedByClient?.code, 1000);
  ws.open();
  assert.deepEqual(ws.sent, []);
});

test('client: an abort while the token provider is pending opens no connection once the token comes', async () => {
  const controller = new AbortController();
  let giveToken!: (token: string) => void;
  const c = client({ signal: controller.signal, token: () => new Promise<string>((resolve) => (giveToken = resolve)) });
  const starting = c.start();
  await new Promise((resolve) => setImmediate(resolve));
  controller.abort();
  giveToken('jwt-late');
  await assert.rejects(starting, isCode('aborted'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(FakeWebSocket.instances.length, 0);
});

test('client: a started whose next_seq is not the first_seq asked for ends the stream with protocol', async () => {
  const c = client({ firstSeq: 5 });
  const starting = c.start();
  const ws = await FakeWebSocket.nth(0);
  ws.open();
  ws.reply({ type: 'started', stream_id: 's', interaction_id: 'call-1', next_seq: 1 });
  await assert.rejects(starting, (err) => isCode('protocol')(err) && /next_seq is 1, asked for 5/.test(String(err)));
  assert.ok(ws.closedByClient);
});

test('client: close() is idempotent, closes the socket, and rejects what waits with closed', async () => {
  const c = client({ maxUncommittedBytes: 4 });
  const ws = await started(c);
  await c.send(frame(1, 4));
  const waiting = c.send(frame(2, 4));
  const closed = next(c, 'closed');
  c.close();
  c.close();
  const event = await closed;
  assert.equal(event.code, 1000);
  assert.equal(event.error?.code, 'closed');
  assert.equal(ws.closedByClient?.code, 1000);
  await assert.rejects(waiting, isCode('closed'));
});

test('client: aborting the signal closes the stream with aborted, also while waiting to reconnect', async () => {
  const controller = new AbortController();
  const c = client({ signal: controller.signal, backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
  const ws = await started(c);
  const reconnecting = next(c, 'reconnecting');
  ws.serverClose(1006);
  await reconnecting;
  const closed = next(c, 'closed');
  const stopping = c.stop();
  controller.abort();
  assert.equal((await closed).error?.code, 'aborted');
  await assert.rejects(stopping, isCode('aborted'));
  assert.equal(FakeWebSocket.instances.length, 1, 'the reconnect timer was cancelled');
});

test('client: a signal aborted before start rejects start with aborted and connects nothing', async () => {
  const c = client({ signal: AbortSignal.abort() });
  await assert.rejects(c.start(), isCode('aborted'));
  assert.equal(FakeWebSocket.instances.length, 0);
});

test('client: a failing token provider counts as a failed attempt and is retried', async () => {
  let calls = 0;
  const c = client({
    token: () => {
      calls++;
      if (calls === 1) throw new Error('issuer down');
      return 'jwt-ok';
    },
  });
  const starting = c.start();
  const r = await next(c, 'reconnecting');
  assert.match(r.reason, /issuer down/);
  (await FakeWebSocket.nth(0)).accept();
  await starting;
  assert.equal(calls, 2);
  c.close();
});

test('client: options that cannot work are refused in the constructor with invalid_options', () => {
  assert.throws(() => client({ url: 'http://x' }), isCode('invalid_options'));
  assert.throws(() => client({ interactionId: 'has space' }), isCode('invalid_options'));
  assert.throws(() => client({ maxUncommittedBytes: 0 }), isCode('invalid_options'));
  assert.throws(() => client({ backoff: { maxAttempts: 0 } }), isCode('invalid_options'));
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.throws(() => client({ metadata: circular }), isCode('invalid_options'));
  assert.throws(() => client({ metadata: { n: 1n } }), isCode('invalid_options'));
  assert.throws(() => client({ metadata: { note: 'x'.repeat(4096) } }), /over the protocol's 4096/);
});

test('client: metadata is copied once; changing the object later (even into a cycle) changes no start', async () => {
  const metadata: Record<string, unknown> = { agent: 'a-7' };
  const c = client({ metadata });
  metadata.self = metadata;
  const ws = await started(c);
  assert.deepEqual(ws.texts()[0].metadata, { agent: 'a-7' });
  c.close();
});

test('client: a WebSocket constructor that throws (a token it cannot carry) ends the stream with refused', async () => {
  const token = 'eyJhbGciOi with space';
  class ThrowingWebSocket {
    constructor(_url: string, protocols?: string | string[]) {
      throw new SyntaxError(`The subprotocol '${String(protocols?.[1])}' is invalid`);
    }
  }
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): number => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    const c = client({ token, WebSocket: ThrowingWebSocket });
    const closed = next(c, 'closed');
    const err = await c.start().then(
      () => assert.fail('start resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof IngestClientError && err.code === 'refused', String(err));
    assert.ok(!err.message.includes('with space'), `the token is not in the message: ${err.message}`);
    assert.equal((await closed).error, err);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('client: the events iterator started after the end yields closed once and ends', async () => {
  const c = client();
  c.close();
  const seen = [];
  for await (const event of c.events()) seen.push(event.type);
  assert.deepEqual(seen, ['closed']);
});
