import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamStartedRecord } from '../../../src/shared/publishing/records';
import { WorkerStats } from '../../../src/worker/metrics/worker-stats';
import { PublishOutcomes } from '../../../src/worker/stream/publish-outcomes';
import { audioRecord, recordBase } from '../../support/sample-records';

test('a confirmed audio record adds its publish duration and its commit latency from the oldest frame', () => {
  const stats = new WorkerStats();
  const outcomes = new PublishOutcomes(stats, 'redis_streams');
  const oldestFrameAt = Date.now() - 3_000;
  const before = Date.now();
  outcomes.confirmed(
    audioRecord('acme', 1, Buffer.alloc(320), { received_at: new Date(oldestFrameAt).toISOString() }),
    12,
  );
  const after = Date.now();
  assert.deepEqual(stats.publishDurations.take(), [0.012]);
  const [latency] = stats.commitLatencies.take();
  assert.ok(
    latency >= (before - oldestFrameAt) / 1000 && latency <= (after - oldestFrameAt) / 1000,
    `commit latency ${latency} s`,
  );
  assert.equal(stats.recordsPublished.get('redis_streams|audio'), 1);
});

test('a confirmed stream_started or stream_ended record has no commit latency: no client waits for it', () => {
  const stats = new WorkerStats();
  const outcomes = new PublishOutcomes(stats, 'kafka');
  const started: StreamStartedRecord = {
    ...recordBase('acme'),
    type: 'stream_started',
    encoding: 'pcm_s16le',
    sample_rate: 8000,
    channels: 1,
    first_seq: 1,
    metadata: {},
  };
  outcomes.confirmed(started, 3);
  assert.deepEqual(stats.publishDurations.take(), [0.003]);
  assert.deepEqual(stats.commitLatencies.take(), []);
});

test('samples kept for the next scrape are drained by it', () => {
  const stats = new WorkerStats();
  stats.commitLatencies.add(3.01);
  assert.deepEqual(stats.commitLatencies.take(), [3.01]);
  assert.deepEqual(stats.commitLatencies.take(), []);
});
