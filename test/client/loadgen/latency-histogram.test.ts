/**
 * The load generator's histogram: percentiles within its stated precision,
 * an exact maximum, and merging that gives what recording everything in one
 * histogram gives (the main thread adds up the worker threads' histograms).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from '../../../src/client/loadgen/latency-histogram';

/** The exact percentile of a sorted list, by the same rank rule (nearest rank). */
function exact(sorted: number[], percent: number): number {
  return sorted[Math.max(1, Math.ceil((percent / 100) * sorted.length)) - 1];
}

function pseudoRandom(seed: number): () => number {
  let x = seed;
  return () => {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    return x / 2 ** 32;
  };
}

test('percentiles are within 1/64 of the exact value (never below it), from microseconds to minutes', () => {
  const random = pseudoRandom(7);
  const values: number[] = [];
  const histogram = new LatencyHistogram();
  for (let i = 0; i < 50_000; i++) {
    // Log-uniform from 0.001 ms to 100 s.
    const ms = 10 ** (random() * 8 - 3);
    values.push(Math.round(ms * 1000) / 1000);
    histogram.record(ms);
  }
  values.sort((a, b) => a - b);
  for (const percent of [1, 10, 50, 90, 99, 99.9, 100]) {
    const want = exact(values, percent);
    const got = histogram.percentile(percent);
    assert.ok(got >= want - 0.001, `p${percent}: ${got} below the exact ${want}`);
    assert.ok(got <= want * (1 + 1 / 64) + 0.001, `p${percent}: ${got} more than 1/64 above the exact ${want}`);
  }
  assert.equal(histogram.count, 50_000);
  assert.equal(histogram.max, values[values.length - 1]);
});

test('small values are exact, and the maximum is the exact largest value', () => {
  const histogram = new LatencyHistogram();
  for (const ms of [0.001, 0.002, 0.05, 0.127]) histogram.record(ms);
  assert.equal(histogram.percentile(25), 0.001);
  assert.equal(histogram.percentile(50), 0.002);
  assert.equal(histogram.percentile(75), 0.05);
  assert.equal(histogram.percentile(100), 0.127);
  histogram.record(1234.5678);
  assert.equal(histogram.max, 1234.568);
  assert.equal(histogram.percentile(100), 1234.568, 'the top percentile never passes the maximum');
});

test('adding histograms gives what recording every value in one gives', () => {
  const random = pseudoRandom(11);
  const all = new LatencyHistogram();
  const parts = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
  for (let i = 0; i < 9_000; i++) {
    const ms = random() * (i % 3 === 0 ? 5 : 500);
    all.record(ms);
    parts[i % 3].record(ms);
  }
  const merged = new LatencyHistogram();
  // As the main thread does: from the arrays a worker thread posted.
  for (const part of parts) merged.add(new Float64Array(part.counts));
  assert.deepEqual(merged.counts, all.counts);
  assert.deepEqual(merged.summary(), all.summary());
});

test('an empty histogram reads as zeros, and negative values count as zero', () => {
  const histogram = new LatencyHistogram();
  assert.deepEqual(histogram.summary(), { p50: 0, p90: 0, p99: 0, max: 0, count: 0 });
  histogram.record(-3);
  assert.deepEqual(histogram.summary(), { p50: 0, p90: 0, p99: 0, max: 0, count: 1 });
  assert.throws(() => new LatencyHistogram(new Float64Array(3)), RangeError);
});
