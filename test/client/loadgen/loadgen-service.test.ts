/**
 * `ingest-loadgen` against the real service (the built primary, two workers,
 * redis_streams under the test's own key), read back from Redis with
 * --verify: a native run and an Exotel run must each lose nothing, store every
 * frame byte for byte, and exit 0; the phase markers come in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REDIS_URL } from '../../support/redis';
import { startRedisCluster } from '../../support/redis-cluster';
import { privateKeyFile, runLoadgenCli } from './loadgen-run-cli';

function assertMarkersInOrder(stderr: string): void {
  const lines = stderr.split('\n');
  const measuring = lines.indexOf('loadgen: measuring');
  const measured = lines.indexOf('loadgen: measured');
  assert.ok(measuring >= 0 && measured > measuring, `markers in order in:\n${stderr}`);
}

test('20 native streams for 5 s: every frame committed and found in Redis byte for byte, exit 0', async (t) => {
  const { url, keys, streamKey } = await startRedisCluster(t, 'loadgen-native', { BUFFER_DURATION_MS: '500' });
  const run = await runLoadgenCli([
    ...['--url', url, '--streams', '20', '--seconds', '4', '--ramp-seconds', '1'],
    ...['--private-key', privateKeyFile(t, keys.privateKey), '--tenant', 'tenant-a'],
    ...['--verify', REDIS_URL, '--verify-key', streamKey, '--json'],
  ]);
  assert.equal(run.code, 0, run.stderr);
  assertMarkersInOrder(run.stderr);
  const report = run.report();
  assert.equal(report.streams_started, 20);
  assert.equal(report.streams_failed, 0);
  assert.ok(report.frames_sent >= 20 * 200, `about 250 frames a stream, got ${report.frames_sent} in all`);
  assert.equal(report.frames_committed, report.frames_sent);
  assert.equal(report.lost_frames, 0);
  assert.equal(report.ack_latency_ms!.count > 0, true);
  assert.deepEqual(report.closes, { 1000: 20 });
  assert.deepEqual(report.verify, {
    records: report.verify!.records,
    frames_found: report.frames_sent,
    missing: 0,
    missing_committed: 0,
    duplicated: 0,
    out_of_order: 0,
    corrupt: 0,
    unreadable: 0,
  });
  assert.ok(report.verify.records >= 20 * 3, 'stream_started, audio and stream_ended records of every stream');
});

test('10 Exotel streams for 3 s with Basic credentials: every frame found in Redis, exit 0', async (t) => {
  const { port, streamKey } = await startRedisCluster(
    t,
    'loadgen-exotel',
    { SUPPORT_EXOTEL: 'true', EXOTEL_BASIC_AUTH: 'lg-user:lg-pass=tenant-x', BUFFER_DURATION_MS: '500' },
    { streamKey: (p) => `${p}:{tenant_id}`, jwt: false },
  );
  const run = await runLoadgenCli([
    ...['--url', `ws://127.0.0.1:${port}/v1/exotel`, '--dialect', 'exotel', '--basic', 'lg-user:lg-pass'],
    ...['--streams', '10', '--seconds', '3', '--tenant', 'tenant-x'],
    ...['--verify', REDIS_URL, '--verify-key', streamKey, '--json'],
  ]);
  assert.equal(run.code, 0, run.stderr);
  assertMarkersInOrder(run.stderr);
  assert.match(run.stderr, /telephony streams get no acks or commits/);
  const report = run.report();
  assert.equal(report.streams_started, 10);
  assert.equal(report.streams_failed, 0);
  assert.equal(report.frames_acked, null, 'not applicable: the server sends Exotel nothing');
  assert.equal(report.commit_latency_ms, null);
  assert.equal(report.lost_frames, 0);
  assert.equal(report.verify!.frames_found, report.frames_sent);
  assert.equal(report.verify!.missing, 0);
  assert.equal(report.verify!.corrupt, 0);
  assert.deepEqual(report.closes, { 1000: 10 });
});
