/**
 * `ingest-loadgen` against the real service (the built primary, two workers,
 * redis_streams under the test's own key), read back from Redis with
 * --verify: a native run, a native run through a rolling restart (its streams
 * closed with 1012 resume) and an Exotel run must each lose nothing, store
 * every frame byte for byte, and exit 0; the phase markers come in order.
 * Once more with PUBSUB_ADAPTER=kafka on the shared broker, read back with
 * --verify-kafka, whose report adds the spread over the topic's partitions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deleteTopicAfter, SHARED_BROKERS } from '../../support/kafka';
import { startKafkaService } from '../../support/kafka-service';
import { REDIS_URL } from '../../support/redis';
import { startRedisCluster } from '../../support/redis-cluster';
import { cleanVerify } from './clean-verify';
import { uniqueName } from '../../support/unique-name';
import { privateKeyFile, runLoadgenCli, startLoadgenCli, verifyOf } from './loadgen-run-cli';

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
  assert.deepEqual(report.verify, cleanVerify(verifyOf(report).records, report.frames_sent));
  assert.ok(report.verify.records >= 20 * 3, 'stream_started, audio and stream_ended records of every stream');
});

test(
  '12 native streams for 3 s into Kafka (6 partitions), read back with --verify-kafka: every frame found, ' +
    'the spread over partitions in the report and its table, exit 0',
  async (t) => {
    const topic = uniqueName('loadgen-kafka');
    deleteTopicAfter(t, SHARED_BROKERS, topic);
    const { url, keys } = await startKafkaService(
      t,
      { brokers: SHARED_BROKERS, topic, partitions: 6, replication: 1 },
      { BUFFER_DURATION_MS: '500' },
    );
    const run = await runLoadgenCli([
      ...['--url', url, '--streams', '12', '--seconds', '3', '--ramp-seconds', '1'],
      ...['--private-key', privateKeyFile(t, keys.privateKey), '--tenant', 'tenant-a'],
      ...['--verify-kafka', SHARED_BROKERS.join(','), '--verify-topic', topic, '--json'],
    ]);
    assert.equal(run.code, 0, run.stderr);
    const report = run.report();
    assert.equal(report.lost_frames, 0);
    const { partitions, ...verify } = verifyOf(report);
    assert.deepEqual(verify, cleanVerify(verify.records, report.frames_sent));
    assert.ok(partitions, 'a Kafka read-back reports the spread');
    assert.deepEqual(
      partitions.map((p) => p.partition),
      [0, 1, 2, 3, 4, 5],
    );
    assert.equal(
      partitions.reduce((n, p) => n + p.records, 0),
      verify.records,
    );
    assert.equal(
      partitions.reduce((n, p) => n + p.interactions, 0),
      12,
      'each interaction in one partition',
    );
    const used = partitions.filter((p) => p.records > 0).length;
    assert.match(run.stderr, new RegExp(`^partitions +${used} of 6 used; interactions per partition min`, 'm'));
  },
);

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
  assert.equal(verifyOf(report).frames_found, report.frames_sent);
  assert.equal(verifyOf(report).missing, 0);
  assert.equal(verifyOf(report).corrupt, 0);
  assert.deepEqual(report.closes, { 1000: 10 });
});

test('streams resume through a rolling restart (1012) and lose nothing; SIGINT ends the run early', async (t) => {
  const { url, keys, streamKey, cluster } = await startRedisCluster(t, 'loadgen-roll', {
    BUFFER_DURATION_MS: '500',
    DRAIN_TIMEOUT_MS: '200',
  });
  const cli = startLoadgenCli([
    ...['--url', url, '--streams', '10', '--seconds', '60', '--warmup-seconds', '0.5'],
    ...['--private-key', privateKeyFile(t, keys.privateKey), '--tenant', 'tenant-a'],
    ...['--verify', REDIS_URL, '--verify-key', streamKey, '--json'],
  ]);
  t.after(() => cli.child.kill('SIGKILL'));
  await cli.waitForStderr(/^loadgen: measuring$/, 'the measurement window');
  cluster.child.kill('SIGHUP');
  await cluster.waitForLog((e) => e.msg === 'rolling restart complete', 'the rolling restart to complete', 60_000);
  cli.child.kill('SIGINT');
  const run = await cli.done;
  assert.equal(run.code, 0, run.stderr);
  assertMarkersInOrder(run.stderr);
  const report = run.report();
  assert.ok(report.measure.seconds < 60, 'SIGINT ended the window early');
  assert.ok((report.closes['1012'] ?? 0) >= 1, `streams were closed with 1012: ${JSON.stringify(report.closes)}`);
  assert.ok(report.resumes >= report.closes['1012'], 'every 1012 was followed by a resume');
  assert.equal(report.streams_failed, 0);
  assert.equal(report.frames_committed, report.frames_sent);
  assert.equal(report.lost_frames, 0);
  assert.equal(verifyOf(report).frames_found, report.frames_sent);
  assert.equal(verifyOf(report).missing, 0);
  assert.equal(verifyOf(report).duplicated, 0, 'REDIS_DEDUPLICATE stores a re-sent frame once');
  assert.equal(verifyOf(report).corrupt, 0);
});

test('--max-rate: 5 streams faster than real time, every frame committed and found in Redis, exit 0', async (t) => {
  const { url, keys, streamKey } = await startRedisCluster(t, 'loadgen-max', { BUFFER_DURATION_MS: '200' });
  const run = await runLoadgenCli([
    ...['--url', url, '--streams', '5', '--seconds', '2', '--max-rate', '--window-frames', '100'],
    ...['--private-key', privateKeyFile(t, keys.privateKey), '--tenant', 'tenant-a'],
    ...['--verify', REDIS_URL, '--verify-key', streamKey, '--json'],
  ]);
  assert.equal(run.code, 0, run.stderr);
  assertMarkersInOrder(run.stderr);
  const report = run.report();
  const realTime = 5 * (2000 / 20);
  assert.ok(report.frames_sent > 2 * realTime, `${report.frames_sent} frames, real time would be ${realTime}`);
  assert.equal(report.frames_committed, report.frames_sent);
  assert.equal(report.frames_acked, report.frames_sent, 'stopped acknowledges the tail');
  assert.equal(report.lost_frames, 0);
  assert.equal(report.rate_kept, true, 'no clock to keep');
  assert.equal(verifyOf(report).frames_found, report.frames_sent);
});

test('--idle: streams kept open past the server idle timeout by keepalives every --keepalive-seconds', async (t) => {
  const { url, keys } = await startRedisCluster(t, 'loadgen-idle', { IDLE_TIMEOUT_MS: '1500' });
  const run = await runLoadgenCli([
    ...['--url', url, '--streams', '5', '--seconds', '3', '--idle', '--keepalive-seconds', '0.4'],
    ...['--private-key', privateKeyFile(t, keys.privateKey), '--tenant', 'tenant-a', '--json'],
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = run.report();
  assert.equal(report.streams_started, 5);
  assert.equal(report.streams_failed, 0);
  assert.equal(report.frames_sent, 0);
  assert.deepEqual(report.closes, { 1000: 5 }, 'closed only by the stop at the end, never for idleness');
});
