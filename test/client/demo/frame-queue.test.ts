/**
 * The demo page's frame queue, run in Node on the file the browser loads: frames
 * come out in order, and a bounded queue (the microphone's) drops and counts what
 * does not fit instead of growing while sends wait.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameQueue } from './demo-scripts';

async function drain<T>(queue: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const frame of queue) out.push(frame);
  return out;
}

test('demo frame queue: frames come out in order until the end', async () => {
  const queue = new FrameQueue<number>();
  const taken = drain(queue);
  for (let i = 0; i < 1000; i++) assert.equal(queue.push(i), true);
  queue.end();
  assert.deepEqual(
    await taken,
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.equal(queue.dropped, 0);
});

test('demo frame queue: past its limit it drops the newest frames and counts them', async () => {
  const queue = new FrameQueue<number>(3);
  const pushed = [1, 2, 3, 4, 5].map((n) => queue.push(n));
  assert.deepEqual(pushed, [true, true, true, false, false]);
  assert.equal(queue.dropped, 2);
  queue.end();
  assert.deepEqual(await drain(queue), [1, 2, 3]);
});
