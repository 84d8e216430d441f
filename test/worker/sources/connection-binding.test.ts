/**
 * The wiring every source dialect shares (ConnectionBinding), on a fake socket
 * and fake sessions: each rule here holds for native and telephony streams alike.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import type WebSocket from 'ws';
import { IngestError } from '../../../src/shared/errors';
import { ConnectionBinding, type MessageHandler } from '../../../src/worker/sources/connection-binding';
import type { StreamSession } from '../../../src/worker/stream/stream-session';

class FakeSession {
  started = false;
  interactionId: string | undefined = undefined;
  readonly failures: IngestError[] = [];
  readonly closes: number[] = [];
  readonly pongs: Buffer[] = [];

  fail(error: IngestError): Promise<void> {
    this.failures.push(error);
    return Promise.resolve();
  }

  pong(payload: Buffer): void {
    this.pongs.push(payload);
  }

  onSocketClosed(code: number): void {
    this.closes.push(code);
  }
}

interface Bound {
  readonly ws: EventEmitter;
  readonly binding: ConnectionBinding;
  readonly sessions: FakeSession[];
  readonly logs: Array<Record<string, unknown>>;
}

const SOCKET_EVENTS = ['message', 'pong', 'error', 'close'];

function bind(onMessage: MessageHandler['onMessage'] = () => undefined, startTimeoutMs = 10_000): Bound {
  const ws = new EventEmitter();
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      cb();
    },
  });
  const options = { startTimeoutMs, oversizeReason: 'too big for this dialect', messageKind: 'test message' };
  const binding = new ConnectionBinding(ws as unknown as WebSocket, { onMessage }, pino(destination), options);
  const sessions = [new FakeSession(), new FakeSession()];
  for (const session of sessions) binding.add(session as unknown as StreamSession);
  binding.listen();
  return { ws, binding, sessions, logs };
}

function closeAll(bound: Bound): void {
  bound.ws.emit('close', 1000);
}

test('a connection with no start within START_TIMEOUT_MS: its first session fails with start_timeout', async () => {
  const bound = bind(undefined, 5);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(
    bound.sessions[0].failures.map((e) => [e.code, e.message]),
    [['start_timeout', 'no start message within 5 ms']],
  );
  assert.equal(bound.sessions[1].failures.length, 0, 'only the first session waits for start');
  closeAll(bound);
});

test('a start already waiting to be read when START_TIMEOUT_MS expires wins over the timer', async () => {
  // Both timers expire in one timers phase, the binding's first: the message is
  // handled after its timer fired, as a socket read waiting behind it is.
  const bound: Bound = bind(() => {
    bound.sessions[0].started = true;
    bound.binding.started();
  }, 5);
  const read = new Promise<void>((resolve) =>
    setTimeout(() => {
      bound.ws.emit('message', Buffer.from('{"type":"start"}'), false);
      resolve();
    }, 5),
  );
  // A busy worker: both timers (one duration, so one list, in creation order) have expired when the loop turns.
  const busyUntil = Date.now() + 20;
  while (Date.now() < busyUntil);
  await read;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(bound.sessions[0].failures, [], 'no start_timeout for a start that had arrived');
  closeAll(bound);
});

test('a start stops the start timer', async () => {
  const bound = bind(undefined, 5);
  bound.binding.started();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(bound.sessions[0].failures.length, 0);
  closeAll(bound);
});

test("a dialect's protocol error ends every session on the socket with that error", () => {
  const refusal = new IngestError('invalid_message', 'stop before start');
  const bound = bind(() => {
    throw refusal;
  });
  bound.ws.emit('message', Buffer.from('{}'), false);
  for (const session of bound.sessions) assert.deepEqual(session.failures, [refusal]);
  assert.equal(bound.logs.filter((l) => l.level === 50).length, 0, 'a protocol error is not a bug');
  closeAll(bound);
});

test('a bug in message handling ends every session with internal_error and is logged, never thrown to ws', () => {
  const bound = bind(() => {
    throw new TypeError('boom');
  });
  bound.sessions[0].interactionId = 'call-1';
  assert.doesNotThrow(() => bound.ws.emit('message', Buffer.from('{}'), false));
  for (const session of bound.sessions)
    assert.deepEqual(
      session.failures.map((e) => [e.code, e.message]),
      [['internal_error', 'the server failed to handle this message']],
    );
  const errors = bound.logs.filter((l) => l.level === 50);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].msg, 'unexpected error handling a test message');
  assert.equal(errors[0].interaction_id, 'call-1');
  closeAll(bound);
});

test("ws refusing an oversized message fails every session with frame_too_large and the dialect's reason", () => {
  const bound = bind();
  const err = Object.assign(new RangeError('Max payload size exceeded'), { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' });
  bound.ws.emit('error', err);
  for (const session of bound.sessions)
    assert.deepEqual(
      session.failures.map((e) => [e.code, e.message, e.closeCode]),
      [['frame_too_large', 'too big for this dialect', 1009]],
    );
  closeAll(bound);
});

test('any other socket error is logged as a warning and ends nothing by itself', () => {
  const bound = bind();
  bound.ws.emit('error', Object.assign(new Error('invalid UTF-8'), { code: 'WS_ERR_INVALID_UTF8' }));
  for (const session of bound.sessions) assert.equal(session.failures.length, 0);
  const warnings = bound.logs.filter((l) => l.level === 40);
  assert.deepEqual(
    warnings.map((l) => [l.msg, l.ws_code, l.err]),
    [['websocket error', 'WS_ERR_INVALID_UTF8', 'invalid UTF-8']],
  );
  closeAll(bound);
});

test('pongs reach every session on the socket, with their payload', () => {
  const bound = bind();
  bound.ws.emit('pong', Buffer.from('p1'));
  assert.deepEqual(
    bound.sessions.map((s) => s.pongs.map(String)),
    [['p1'], ['p1']],
  );
  closeAll(bound);
});

test('the socket close reaches every session and releases the start timer and every listener', async () => {
  const bound = bind(undefined, 5);
  bound.ws.emit('close', 1006);
  assert.deepEqual(
    bound.sessions.map((s) => s.closes),
    [[1006], [1006]],
  );
  for (const event of SOCKET_EVENTS) assert.equal(bound.ws.listenerCount(event), 0, `${event} listener released`);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(bound.sessions[0].failures.length, 0, 'no start_timeout after the close');
  bound.binding.close(); // idempotent
});
