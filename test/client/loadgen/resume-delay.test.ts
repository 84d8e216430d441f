/**
 * A native load stream's delay before resuming, as pure logic: the cause's
 * base first (1012 at once), then growing while attempts keep failing (1012
 * too, which a base of 0 would never grow), capped, always with jitter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resumeDelayMs } from '../../../src/client/loadgen/native-stream';

test('after 1012 the first attempt is at once; attempts that keep failing back off, capped at 5 s', () => {
  assert.equal(resumeDelayMs(0, 1, 0), 0);
  const grown = [2, 3, 4, 5, 6, 7, 8].map((n) => resumeDelayMs(0, n, 0));
  assert.deepEqual(grown, [200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.equal(resumeDelayMs(1000, 1, 0), 1000, 'a 1011 or 1013 waits its base first');
  assert.equal(resumeDelayMs(1000, 4, 0), 5000);
});

test('every delay has jitter: up to half the delay plus 100 ms, so clients of a roll spread out', () => {
  assert.equal(resumeDelayMs(0, 1, 0.999), 100);
  assert.equal(resumeDelayMs(200, 1, 0.5), 200 + 100);
  assert.equal(resumeDelayMs(0, 8, 0.999), Math.round(5000 + 0.999 * 2600));
  const spread = new Set([0, 0.25, 0.5, 0.75].map((r) => resumeDelayMs(200, 2, r)));
  assert.equal(spread.size, 4);
});
