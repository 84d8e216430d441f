/**
 * Frame sizes on audio records (protocol.md 3), as the record builder writes
 * them. Reading them back is @ingest/consumer's (test/packages/consumer/frame-sizes.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameSizeRuns } from '../../../src/shared/publishing/frame-sizes';

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
