/**
 * Frame sizes read back as a consumer reads them from Redis fields or Kafka
 * headers (packages/consumer/src/frame-sizes.ts), and the round trip with the
 * service's writer (src/shared/publishing/frame-sizes.ts), which keeps the two in step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsumerError, frameSizesOf, splitFrames } from '../../../packages/consumer/src/index';
import { FrameSizeRuns } from '../../../src/shared/publishing/frame-sizes';

test('a consumer reads the sizes back from numbers or from the strings of Redis fields and Kafka headers', () => {
  assert.deepEqual(frameSizesOf({ frames: '3', frame_bytes: '160' }), [160, 160, 160]);
  assert.deepEqual(frameSizesOf({ frames: 4, frame_sizes: '320x2,160,7' }), [320, 320, 160, 7]);
  const payload = Buffer.from([1, 2, 3, 4, 5, 6]);
  assert.deepEqual(
    splitFrames({ frames: 3, frame_sizes: '1,2,3' }, payload).map((frame) => [...frame]),
    [[1], [2, 3], [4, 5, 6]],
  );
});

test('what the service writes, the consumer reads back frame for frame', () => {
  for (const sizes of [[320, 320, 320], [...new Array<number>(149).fill(320), 160], [1, 2, 2, 1], [0]]) {
    const runs = new FrameSizeRuns();
    for (const size of sizes) runs.add(size);
    assert.deepEqual(frameSizesOf({ frames: sizes.length, ...runs.take() }), sizes);
  }
});

test('sizes that contradict the record are refused as record_invalid', () => {
  const cases = [
    { frames: 3, frame_sizes: '320x2' },
    { frames: 2, frame_sizes: '320x2,1' },
    { frames: 2, frame_sizes: '320x0,1,1' },
    { frames: 2, frame_sizes: '32a' },
    { frames: 2, frame_bytes: '-1' },
    { frames: 2 },
    { frames: 1.5, frame_bytes: 2 },
    { frames: 'x', frame_sizes: '1' },
  ];
  for (const record of cases) {
    assert.throws(
      () => frameSizesOf(record),
      (err: unknown) => err instanceof ConsumerError && err.code === 'record_invalid',
    );
  }
  assert.throws(() => splitFrames({ frames: 2, frame_bytes: 2 }, Buffer.alloc(5)), /payload has 5/);
});
