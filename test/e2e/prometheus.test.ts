/**
 * The primary's /metrics as Prometheus itself sees it: `promtool check
 * metrics` finds no problem in the exposition, and a real Prometheus server
 * scrapes the target successfully and can query it. Needs the Debian package
 * `prometheus` (promtool and prometheus); without it these tests fail.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IngestClient, UpgradeRefused } from '../../src/client/ingest-client';
import type { RunningCluster } from '../support/cluster';
import { pollUntil } from '../support/http-get';
import { frameBytes } from '../support/ingest-server';
import { promtoolCheckMetrics, scrapeMetrics, startPrometheus } from '../support/prometheus';
import { startRedisCluster } from '../support/redis-cluster';

/**
 * A 2-worker cluster on Redis after a little load: every labelled series
 * (accepted, refused, records, closes) exists.
 */
async function clusterAfterLoad(t: TestContext): Promise<RunningCluster> {
  const { cluster, url, token } = await startRedisCluster(t, 'prometheus', { BUFFER_DURATION_MS: '200' });
  await Promise.all(
    Array.from({ length: 4 }, async (_, i) => {
      const client = await IngestClient.connect(url, { token });
      await client.start({ interactionId: `prom-${i}` });
      for (let seq = 1; seq <= 30; seq++) client.sendFrame(frameBytes(i, seq));
      assert.equal((await client.stop()).close.code, 1000);
    }),
  );
  await assert.rejects(IngestClient.connect(url, { token: 'not-a-jwt' }), UpgradeRefused);
  return cluster;
}

test(
  'promtool check metrics finds no problem in the cluster exposition after load',
  { timeout: 120_000 },
  async (t) => {
    const cluster = await clusterAfterLoad(t);
    const scrape = await scrapeMetrics(cluster.metricsPort);
    assert.equal(scrape.status, 200);
    assert.ok(
      scrape.value('ingest_auth_failures_total', { reason: 'invalid_token' })! >= 1,
      'labelled series are in the exposition',
    );
    assert.ok(scrape.value('ingest_records_published_total', { adapter: 'redis_streams', type: 'audio' })! >= 4);
    const { code, output } = await promtoolCheckMetrics(scrape.body);
    assert.equal(code, 0, `promtool check metrics:\n${output}`);
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);

interface TargetsAnswer {
  activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }>;
}

interface QueryAnswer {
  resultType: string;
  result: Array<{ metric: Record<string, string>; value: [number, string] }>;
}

test(
  'a real Prometheus server scrapes the metrics port: target up with no ' +
    'error, and ingest_workers{state="ready"} queries as 2',
  { timeout: 120_000 },
  async (t) => {
    const cluster = await clusterAfterLoad(t);
    const prometheus = await startPrometheus(t, cluster.metricsPort);
    const target = await pollUntil(
      async () => {
        const answer = await prometheus.api('/api/v1/targets');
        const found = (answer.data as TargetsAnswer).activeTargets.find(
          (x) => x.scrapeUrl === `http://127.0.0.1:${cluster.metricsPort}/metrics`,
        );
        return found && found.health !== 'unknown' ? found : undefined;
      },
      'Prometheus to scrape the target',
      60_000,
      200,
    );
    assert.equal(target.lastError, '', 'the scrape succeeded');
    assert.equal(target.health, 'up');

    const query = encodeURIComponent('ingest_workers{state="ready"}');
    const result = await pollUntil(
      async () => {
        const answer = await prometheus.api(`/api/v1/query?query=${query}`);
        assert.equal(answer.status, 'success');
        const data = answer.data as QueryAnswer;
        return data.result.length > 0 ? data : undefined;
      },
      'the query to return a sample',
      60_000,
      200,
    );
    assert.equal(result.resultType, 'vector');
    assert.equal(result.result.length, 1);
    assert.equal(result.result[0].metric.job, 'ingest');
    assert.equal(result.result[0].value[1], '2');
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);
