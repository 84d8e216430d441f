import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackoffPolicy } from '../../../packages/client/src/backoff-policy';
import { IngestClientError } from '../../../packages/client/src/errors';

test('backoff: exponential from initialDelayMs, capped at maxDelayMs, jitter within [base/2, base]', () => {
  const low = new BackoffPolicy({ initialDelayMs: 100, maxDelayMs: 1000 }, () => 0);
  const high = new BackoffPolicy({ initialDelayMs: 100, maxDelayMs: 1000 }, () => 0.999999);
  const bases = [100, 200, 400, 800, 1000, 1000];
  bases.forEach((base, i) => {
    assert.equal(low.delayMs(i + 1), base / 2, `attempt ${i + 1} lowest`);
    assert.equal(high.delayMs(i + 1), base, `attempt ${i + 1} highest`);
  });
});

test('backoff: a huge attempt number stays at the cap', () => {
  const policy = new BackoffPolicy({ initialDelayMs: 250, maxDelayMs: 10_000 }, () => 1);
  assert.equal(policy.delayMs(5000), 10_000);
});

test('backoff: maxAttempts bounds the attempts of one outage; the default is unbounded', () => {
  const policy = new BackoffPolicy({ maxAttempts: 3 });
  assert.deepEqual(
    [1, 2, 3, 4].map((a) => policy.allows(a)),
    [true, true, true, false],
  );
  assert.equal(new BackoffPolicy().allows(1e9), true);
});

const isInvalid = (err: unknown): boolean => err instanceof IngestClientError && err.code === 'invalid_options';

test('backoff: options that cannot work are refused with invalid_options', () => {
  assert.throws(() => new BackoffPolicy({ initialDelayMs: 500, maxDelayMs: 100 }), isInvalid);
  assert.throws(() => new BackoffPolicy({ maxAttempts: 0 }), isInvalid);
  assert.throws(() => new BackoffPolicy({ backendDelayMs: -1 }), isInvalid);
});
