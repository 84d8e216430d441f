/**
 * The primary's /metrics on METRICS_PORT aggregates every worker over IPC:
 * totals equal what the clients did, a worker that does not answer (stopped,
 * or killed mid-scrape) never breaks a scrape, and counters do not drop when
 * a worker is replaced.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IngestClient, UpgradeRefused } from '../../src/client/ingest-client';
import { readyWorkerPids } from '../support/cluster';
import { pollUntil } from '../support/http-get';
import { frameBytes } from '../support/ingest-server';
import { scrapeMetrics } from '../support/prometheus';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { makeKeyPair, signToken } from '../support/tokens';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- package.json is outside the compiled tree
const { version } = require('../../../package.json') as { version: string };

function startMetricsCluster(t: TestContext, env: Record<string, string> = {}): Promise<RedisCluster> {
  return startRedisCluster(t, 'metrics', { BUFFER_DURATION_MS: '200', ...env });
}

/**
 * Runs `count` streams of `frames` frames (sizes differ per stream and per
 * frame) to stopped + 1000; returns the bytes sent.
 */
async function load(
  t: TestContext,
  setup: RedisCluster,
  count: number,
  frames: number,
  label: string,
): Promise<number> {
  const sizes = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const client = await IngestClient.connect(setup.url, { token: setup.token });
      t.after(() => {
        if (!client.closeState) client.ws.terminate();
      });
      await client.start({ interactionId: `${label}-${i}` });
      let bytes = 0;
      for (let seq = 1; seq <= frames; seq++) {
        const frame = frameBytes(i, seq, 100 + i * 13 + (seq % 7));
        bytes += frame.length;
        client.sendFrame(frame);
      }
      const { stopped, close } = await client.stop();
      assert.equal(close.code, 1000);
      assert.equal(stopped?.last_seq, frames);
      return bytes;
    }),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

test(
  'after a known load, /metrics sums every worker exactly: frames, bytes, connections, ' +
    "records, auth failures; plus worker states, build info and the primary's own metrics",
  { timeout: 120_000 },
  async (t) => {
    const STREAMS = 12;
    const FRAMES = 150;
    const setup = await startMetricsCluster(t);
    const { cluster } = setup;
    const bytes = await load(t, setup, STREAMS, FRAMES, 'known');
    const servedBy = new Set(
      cluster
        .logs()
        .filter((e) => e.msg === 'stream started')
        .map((e) => e.pid),
    );
    assert.equal(servedBy.size, 2, 'the streams were spread over both workers');

    const stranger = makeKeyPair('ec');
    await assert.rejects(
      IngestClient.connect(setup.url, { token: signToken(stranger.privateKey, { tenant_id: 'tenant-a' }) }),
      (err: unknown) => {
        assert.ok(err instanceof UpgradeRefused);
        assert.equal(err.status, 401);
        return true;
      },
    );

    // A worker counts a close when its side of the socket has closed, which may be
    // just after the client saw it: wait for that one, then everything else is exact.
    const scrape = await pollUntil(async () => {
      const s = await scrapeMetrics(cluster.metricsPort);
      return s.value('ingest_stream_closes_total', { code: '1000' }) === STREAMS ? s : undefined;
    }, `ingest_stream_closes_total{code="1000"} to reach ${STREAMS}`);
    assert.equal(scrape.status, 200);
    assert.match(String(scrape.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.equal(scrape.value('ingest_frames_received_total'), STREAMS * FRAMES);
    assert.equal(scrape.value('ingest_bytes_received_total'), bytes);
    assert.equal(scrape.value('ingest_connections_total', { result: 'accepted' }), STREAMS);
    assert.equal(scrape.value('ingest_connections_total', { result: 'invalid_token' }), 1);
    assert.equal(scrape.value('ingest_auth_failures_total', { reason: 'invalid_token' }), 1);
    assert.equal(
      scrape.value('ingest_records_published_total', { adapter: 'redis_streams', type: 'stream_started' }),
      STREAMS,
    );
    assert.equal(
      scrape.value('ingest_records_published_total', { adapter: 'redis_streams', type: 'stream_ended' }),
      STREAMS,
    );
    assert.equal(scrape.value('ingest_connections_active'), 0);
    assert.equal(scrape.value('ingest_streams_active'), 0);
    assert.equal(scrape.value('ingest_workers', { state: 'ready' }), 2);
    assert.equal(scrape.value('ingest_workers', { state: 'expected' }), 2);
    assert.equal(scrape.value('ingest_health', { status: 'healthy' }), 1, 'the /health status, as a gauge');
    assert.equal(scrape.value('ingest_health', { status: 'degraded' }), 0);
    assert.equal(scrape.value('ingest_health', { status: 'unhealthy' }), 0);
    assert.equal(scrape.value('ingest_worker_restarts_total'), 0);
    assert.equal(scrape.value('ingest_metrics_workers_missing'), 0);
    assert.equal(scrape.value('ingest_build_info', { version, node: process.version }), 1);
    assert.ok(scrape.value('ingest_primary_process_cpu_user_seconds_total')! > 0, "the primary's own default metrics");
    assert.ok(scrape.value('ingest_primary_nodejs_heap_size_used_bytes')! > 0);
    assert.ok(
      scrape.value('ingest_publish_duration_seconds_count')! >= STREAMS * 2,
      'publish durations from both workers',
    );
    assert.equal(
      scrape.value('ingest_commit_latency_seconds_count'),
      scrape.value('ingest_records_published_total', { adapter: 'redis_streams', type: 'audio' }),
      'a commit latency for each audio record',
    );
    assert.ok(scrape.value('ingest_commit_latency_seconds_sum')! > 0);
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);

test(
  'a worker that does not answer never breaks a scrape: 200 within METRICS_SCRAPE_TIMEOUT_MS with ' +
    'ingest_metrics_workers_missing 1, back to 0 when it answers again; a worker killed mid-scrape too',
  { timeout: 120_000 },
  async (t) => {
    const SCRAPE_TIMEOUT_MS = 300;
    // Registered before the cluster's own cleanup, which waits for every process
    // holding its output pipe: a worker left stopped would hang it.
    const stoppedPids = new Set<number>();
    t.after(() => {
      for (const pid of stoppedPids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // already gone
        }
      }
    });
    const setup = await startMetricsCluster(t, { METRICS_SCRAPE_TIMEOUT_MS: String(SCRAPE_TIMEOUT_MS) });
    const { cluster } = setup;
    await load(t, setup, 4, 20, 'warm');
    const full = await scrapeMetrics(cluster.metricsPort);
    assert.equal(full.value('ingest_frames_received_total'), 4 * 20);
    const [stopped, other] = readyWorkerPids(cluster) as [number, number];
    stoppedPids.add(stopped);
    process.kill(stopped, 'SIGSTOP');

    const partial = await scrapeMetrics(cluster.metricsPort);
    assert.equal(partial.status, 200);
    assert.equal(partial.value('ingest_metrics_workers_missing'), 1);
    assert.ok(
      partial.elapsedMs >= SCRAPE_TIMEOUT_MS - 50 && partial.elapsedMs < 2_000,
      `answered after ${partial.elapsedMs} ms, bounded by the ${SCRAPE_TIMEOUT_MS} ms timeout`,
    );
    assert.equal(partial.value('ingest_workers', { state: 'ready' }), 2, "the primary's own numbers are all there");
    // Its counters stay in the sum from its last answer: a dip would read as a counter reset.
    assert.equal(
      partial.value('ingest_frames_received_total'),
      4 * 20,
      'counters do not drop while a worker is missing',
    );
    assert.equal(partial.value('ingest_connections_total', { result: 'accepted' }), 4);

    process.kill(stopped, 'SIGCONT');
    await pollUntil(
      async () =>
        (await scrapeMetrics(cluster.metricsPort)).value('ingest_metrics_workers_missing') === 0 ? true : undefined,
      'the resumed worker to answer scrapes again',
    );

    // Killed while a scrape waits for it: the scrape answers with the others.
    stoppedPids.add(other);
    process.kill(other, 'SIGSTOP');
    const during = scrapeMetrics(cluster.metricsPort);
    process.kill(other, 'SIGKILL');
    const answer = await during;
    assert.equal(answer.status, 200);
    assert.equal(answer.value('ingest_frames_received_total'), 4 * 20, "a killed worker's counters stay in the sum");
    await cluster.waitForLog(
      (e) => e.msg === 'worker exited unexpectedly: replacing it' && e.signal === 'SIGKILL',
      'the kill noticed',
    );
    await cluster.waitForLog(
      (e) => e.role === 'primary' && e.msg === 'worker ready' && e.worker_pid !== stopped && e.worker_pid !== other,
      'a replacement',
    );
    const after = await scrapeMetrics(cluster.metricsPort);
    assert.equal(after.value('ingest_metrics_workers_missing'), 0);
    assert.equal(after.value('ingest_worker_restarts_total'), 1);
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);

test(
  'counters do not drop when a worker is replaced: the totals after a ' +
    'SIGKILL and restart are at least those scraped before',
  { timeout: 120_000 },
  async (t) => {
    const setup = await startMetricsCluster(t);
    const { cluster } = setup;
    const bytes = await load(t, setup, 8, 50, 'before');
    const before = await scrapeMetrics(cluster.metricsPort);
    assert.equal(before.value('ingest_frames_received_total'), 8 * 50);
    assert.equal(before.value('ingest_bytes_received_total'), bytes);

    const victim = readyWorkerPids(cluster)[0];
    process.kill(victim, 'SIGKILL');
    await cluster.waitForLog(
      (e) =>
        e.role === 'primary' &&
        e.msg === 'worker ready' &&
        !readyWorkerPids(cluster)
          .slice(0, 2)
          .includes(e.worker_pid as number),
      'a replacement',
    );
    const after = await scrapeMetrics(cluster.metricsPort);
    for (const [name, labels] of [
      ['ingest_frames_received_total', {}],
      ['ingest_bytes_received_total', {}],
      ['ingest_connections_total', { result: 'accepted' }],
      ['ingest_records_published_total', { adapter: 'redis_streams', type: 'audio' }],
      ['ingest_publish_duration_seconds_count', {}],
    ] as const) {
      assert.ok(
        after.value(name, labels)! >= before.value(name, labels)!,
        `${name} ${JSON.stringify(labels)}: ${after.value(name, labels)} after, ${before.value(name, labels)} before`,
      );
    }
    assert.equal(after.value('ingest_frames_received_total'), 8 * 50, 'nothing lost, nothing counted twice');
    assert.equal(after.value('ingest_workers', { state: 'ready' }), 2);

    // And they keep counting on top of what the dead worker did.
    await load(t, setup, 2, 10, 'after');
    assert.equal((await scrapeMetrics(cluster.metricsPort)).value('ingest_frames_received_total'), 8 * 50 + 2 * 10);
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);
