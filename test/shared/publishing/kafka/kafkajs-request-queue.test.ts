/**
 * The fix kafka-publisher.ts applies to kafkajs's per-connection request queue
 * (kafkajs #1704/#1751): an idle queue arms no timer, so no 1 ms poll and no
 * TimeoutNegativeWarning on Node.js 24, while throttled and waiting requests are
 * still sent when they may be. On kafkajs's own RequestQueue, with mock clocks.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { kafkajsRequestQueueFixed } from '../../../../src/shared/publishing/kafka/kafka-publisher';

interface Queue {
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  push(request: {
    entry: {
      correlationId: number;
      apiKey: number;
      apiName: string;
      apiVersion: number;
      resolve: () => void;
      reject: () => void;
    };
    expectResponse: boolean;
    sendRequest: () => void;
  }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs internals have no types
const RequestQueue = require('kafkajs/src/network/requestQueue') as new (options: object) => Queue;

const ignore = (): void => undefined;
const quiet = { debug: ignore, info: ignore, warn: ignore, error: ignore };

function queue(t: TestContext, maxInFlightRequests: number | null = null): Queue {
  // Unfixed, the queue re-arms an overdue timer from each timer: the mock clock would spin forever.
  assert.ok(kafkajsRequestQueueFixed, 'the request queue fix is not applied');
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const q = new RequestQueue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'test',
    broker: '127.0.0.1:9092',
    logger: quiet,
  });
  t.after(() => q.destroy());
  return q;
}

/** Pushes request `id` and returns how many times it has been sent so far. */
function push(q: Queue, id: number): () => number {
  let sent = 0;
  q.push({
    entry: { correlationId: id, apiKey: 0, apiName: 'Produce', apiVersion: 3, resolve: ignore, reject: ignore },
    expectResponse: true,
    sendRequest: () => sent++,
  });
  return () => sent;
}

const answer = (q: Queue, id: number): void =>
  q.fulfillRequest({ correlationId: id, payload: Buffer.alloc(0), size: 0 });

test('the installed kafkajs is the release the request queue fix was written for (applied)', () => {
  assert.equal(kafkajsRequestQueueFixed, true, 'kafkajs changed: check its RequestQueue, then the fix and this test');
});

test('an idle queue arms no timer after a response (no 1 ms poll, no negative timeout)', (t) => {
  const q = queue(t);
  const sent = push(q, 1);
  assert.equal(sent(), 1);
  answer(q, 1);
  assert.equal(q.throttleCheckTimeoutId, null);
  assert.deepEqual(q.pending, []);
});

test('a request waiting for a free in-flight slot is sent when the one ahead of it is answered', (t) => {
  const q = queue(t, 1);
  const first = push(q, 1);
  const second = push(q, 2);
  assert.deepEqual([first(), second()], [1, 0]);
  answer(q, 1);
  assert.equal(second(), 1);
  answer(q, 2);
  // The check armed while the second request waited runs once, finds nothing and arms nothing.
  t.mock.timers.tick(10);
  assert.equal(q.throttleCheckTimeoutId, null);
});

test('a request pushed while the broker throttles the client is sent when the throttle ends', (t) => {
  const q = queue(t);
  q.maybeThrottle(500);
  const sent = push(q, 1);
  assert.equal(sent(), 0);
  t.mock.timers.tick(499);
  assert.equal(sent(), 0);
  t.mock.timers.tick(1);
  assert.equal(sent(), 1);
  answer(q, 1);
  assert.equal(q.throttleCheckTimeoutId, null);
});
