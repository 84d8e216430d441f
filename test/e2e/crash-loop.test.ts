/**
 * Workers that fail at start every time (the backend is unreachable): the
 * primary keeps replacing them with growing delays instead of spinning,
 * reports the cluster unhealthy, keeps serving /metrics, and still stops
 * promptly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { httpGet } from '../support/http-get';
import { scrapeMetrics } from '../support/prometheus';
import { makeKeyPair } from '../support/tokens';

const EXITS = 5;
/** The supervisor's cap on the restart delay (30 s). */
const BACKOFF_CAP_MS = 30_000;

test(
  'a crash loop is retried with growing, capped delays; /health says unhealthy with no ' +
    'worker alive; /metrics still answers; SIGTERM stops it promptly with exit 1',
  { timeout: 120_000 },
  async (t) => {
    const cluster = await startCluster(t, {
      PORT: String(await freePort()),
      WORKERS: '2',
      PUBSUB_ADAPTER: 'redis_streams',
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      BACKEND_CONNECT_TIMEOUT_MS: '100',
      JWT_PUBLIC_KEY: makeKeyPair('ec').publicKeyPem,
    });
    const exits = (): Array<Record<string, unknown>> =>
      cluster.logs().filter((e) => e.msg === 'worker exited unexpectedly: replacing it');
    await cluster.waitForLog(() => exits().length >= EXITS, `${EXITS} failed starts`);

    const delays = exits()
      .slice(0, EXITS)
      .map((e) => e.restart_in_ms as number);
    for (let i = 1; i < delays.length; i++)
      assert.ok(delays[i] > delays[i - 1], `restart delays grow: ${delays.join(', ')}`);
    for (const delay of delays)
      assert.ok(delay >= 0 && delay <= BACKOFF_CAP_MS, `restart delay ${delay} within the cap`);
    for (const exit of exits().slice(0, EXITS)) {
      assert.equal(exit.exit_code, 69, 'start-up failure');
      assert.ok((exit.lived_ms as number) < 10_000);
    }
    assert.ok(
      cluster
        .logs()
        .some((e) => e.role === 'worker' && typeof e.msg === 'string' && e.msg.startsWith('worker start-up failed: ')),
      'the workers say why',
    );
    assert.ok(!cluster.logs().some((e) => e.msg === 'all workers ready'));

    const health = await httpGet(`http://127.0.0.1:${cluster.metricsPort}/health`);
    assert.equal(health.status, 503);
    const body = JSON.parse(health.body) as { status: string; workers: { alive: number; expected: number } };
    assert.equal(body.status, 'unhealthy');
    assert.deepEqual(body.workers, { alive: 0, expected: 2 });

    const scrape = await scrapeMetrics(cluster.metricsPort);
    assert.equal(scrape.status, 200, 'the primary stays responsive');
    assert.ok(
      scrape.value('ingest_worker_restarts_total')! >= 3,
      `restarts counted: ${scrape.value('ingest_worker_restarts_total')}`,
    );
    assert.equal(scrape.value('ingest_workers', { state: 'ready' }), 0);
    assert.equal(scrape.value('ingest_health', { status: 'unhealthy' }), 1, 'the gauge says what /health says');
    assert.equal(scrape.value('ingest_health', { status: 'healthy' }), 0);

    const signalledAt = Date.now();
    cluster.child.kill('SIGTERM');
    const exit = await cluster.exited;
    const tookMs = Date.now() - signalledAt;
    assert.ok(tookMs < 10_000, `stopped ${tookMs} ms after SIGTERM`);
    // Nothing was lost, but the service never worked: not a clean exit (1, could not start), whatever
    // phase the workers were in (starting, failing) when the signal came.
    assert.deepEqual(exit, { code: 1, signal: null });
    assert.ok(cluster.logs().some((e) => e.msg === 'stopped while workers were failing at start-up'));
    assert.ok(
      !cluster.logs().some((e) => e.msg === 'shutdown incomplete: data was left unpublished'),
      'no data loss claimed: no stream was ever taken',
    );
  },
);
