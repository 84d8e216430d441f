/**
 * Frame sizes on audio records (protocol.md 3): written as the record builder
 * writes them, read back as a consumer reads them from Redis fields or Kafka headers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameSizeRuns, frameSizesOf, splitFrames } from '../../../src/shared/publishing/frame-sizes';
import { IngestError } from '../../../src/shared/errors';

function runsOf(sizes: number[]) {
  const runs = new FrameSizeRuns();
  for (const size of sizes) runs.add(size);
  return runs.take();
}

test('3 frame_bytes when every frame has one size', () => {
  assert.deepEqual(runsOf([320, 320, 320]), { frame_bytes: 320 });
  assert.deepEqual(runsOf([0]), { frame_bytes: 0 });
});

test('3 frame_sizes is a run-length list: 320x149,160 = 149 frames of 320 bytes, then one of 160', () => {
  assert.deepEqual(runsOf([...new Array<number>(149).fill(320), 160]), { frame_sizes: '320x149,160' });
  assert.deepEqual(runsOf([1, 2, 2, 1]), { frame_sizes: '1,2x2,1' });
});

test('a consumer reads the sizes back from numbers or from the strings of Redis fields and Kafka headers', () => {
  assert.deepEqual(frameSizesOf({ frames: '3', frame_bytes: '160' }), [160, 160, 160]);
  assert.deepEqual(frameSizesOf({ frames: 4, frame_sizes: '320x2,160,7' }), [320, 320, 160, 7]);
  const payload = Buffer.from([1, 2, 3, 4, 5, 6]);
  assert.deepEqual(
    splitFrames({ frames: 3, frame_sizes: '1,2,3' }, payload).map((frame) => [...frame]),
    [[1], [2, 3], [4, 5, 6]],
  );
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
      (err: unknown) => err instanceof IngestError && err.code === 'record_invalid',
    );
  }
  assert.throws(() => splitFrames({ frames: 2, frame_bytes: 2 }, Buffer.alloc(5)), /payload has 5/);
});
