import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameWindow } from '../../../packages/client/src/frame-window';
import { IngestClientError } from '../../../packages/client/src/errors';

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

test('frame window: numbers frames from firstSeq and drops them when a commit covers them', () => {
  const window = new FrameWindow(5, 1000);
  assert.deepEqual([window.push(bytes(10)), window.push(bytes(20)), window.push(bytes(30))], [5, 6, 7]);
  assert.equal(window.bytes, 60);
  assert.equal(window.firstSeq, 5);
  assert.equal(window.commitThrough(6), 2);
  assert.equal(window.bytes, 30);
  assert.equal(window.firstSeq, 7);
  assert.equal(window.frame(7)?.byteLength, 30);
  assert.equal(window.frame(6), undefined);
  window.commitThrough(7);
  assert.equal(window.count, 0);
  assert.equal(window.firstSeq, 8, 'empty: the next frame is the first uncommitted');
});

test('frame window: push past the cap throws buffer_full and takes nothing', () => {
  const window = new FrameWindow(1, 100);
  window.push(bytes(60));
  assert.throws(
    () => window.push(bytes(41)),
    (err: unknown) => err instanceof IngestClientError && err.code === 'buffer_full',
  );
  assert.equal(window.bytes, 60);
  assert.equal(window.push(bytes(40)), 2, 'exactly at the cap fits');
});

test('frame window: waiting callers get in, in order, as commits free room', async () => {
  const window = new FrameWindow(1, 100);
  window.push(bytes(60));
  window.push(bytes(40));
  const order: number[] = [];
  const a = window.pushWhenRoom(bytes(50)).then((seq) => order.push(seq));
  const b = window.pushWhenRoom(bytes(10)).then((seq) => order.push(seq));
  assert.equal(window.waiting, 2);
  assert.throws(() => window.push(bytes(1)), /buffer_full|uncommitted/, 'push never jumps the queue');
  window.commitThrough(1);
  await Promise.all([a, b]);
  assert.deepEqual(order, [3, 4]);
  assert.equal(window.bytes, 100);
});

test('frame window: a frame larger than the cap is refused at once, waiters are rejected on close', async () => {
  const window = new FrameWindow(1, 100);
  await assert.rejects(window.pushWhenRoom(bytes(101)), /await each send/);
  window.push(bytes(100));
  const waiting = window.pushWhenRoom(bytes(1));
  window.rejectWaiters(new IngestClientError('closed', 'gone'));
  await assert.rejects(waiting, /gone/);
});

test('frame window: at most maxBytes of frames wait; past that pushWhenRoom refuses with buffer_full', async () => {
  const window = new FrameWindow(1, 100);
  window.push(bytes(100));
  const waiting = [window.pushWhenRoom(bytes(60)), window.pushWhenRoom(bytes(40))];
  assert.equal(window.waitingBytes, 100);
  await assert.rejects(
    window.pushWhenRoom(bytes(1)),
    (err: unknown) =>
      err instanceof IngestClientError && err.code === 'buffer_full' && /await each send/.test(err.message),
  );
  window.commitThrough(1);
  assert.deepEqual(await Promise.all(waiting), [2, 3]);
  assert.equal(window.waitingBytes, 0);
  const next = window.pushWhenRoom(bytes(1));
  assert.equal(window.waitingBytes, 1, 'room to wait again');
  window.rejectWaiters(new IngestClientError('closed', 'gone'));
  await assert.rejects(next, /gone/);
});

test('frame window: a long stream does not keep committed frames', () => {
  const window = new FrameWindow(1, 10_000);
  for (let i = 1; i <= 5000; i++) {
    window.push(bytes(2));
    window.commitThrough(i);
  }
  assert.equal(window.count, 0);
  assert.ok((window as unknown as { frames: unknown[] }).frames.length < 2100, 'the dropped prefix is compacted');
});
