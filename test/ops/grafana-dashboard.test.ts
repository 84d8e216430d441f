/**
 * ops/grafana/ingest-dashboard.json: importable anywhere (the datasource is a
 * variable, the schema version set), every panel per instance, every PromQL
 * expression accepted by promtool, and every metric it reads one that a
 * running service really exports. Needs promtool (Debian package
 * `prometheus`); without it the tests fail.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { IngestClient, UpgradeRefused } from '../../src/client/ingest-client';
import { pollUntil } from '../support/http-get';
import { frameBytes } from '../support/ingest-server';
import { scrapeMetrics, startPrometheus } from '../support/prometheus';
import { metricNamesIn, scrapedMetricFamilies } from '../support/promql-metric-names';
import { startRedisCluster } from '../support/redis-cluster';
import { REPO_ROOT } from '../support/repo-root';

const DASHBOARD_FILE = path.join(REPO_ROOT, 'ops', 'grafana', 'ingest-dashboard.json');
const DATASOURCE = '${datasource}';
const INSTANCE_MATCHER = 'instance=~"$instance"';

interface DatasourceRef {
  type?: string;
  uid?: string;
}
interface Target {
  datasource?: DatasourceRef;
  expr?: string;
  refId?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DatasourceRef;
  targets?: Target[];
  gridPos: { h: number; w: number; x: number; y: number };
}
interface Variable {
  type: string;
  name: string;
  query: string | { query: string };
  datasource?: DatasourceRef;
  multi?: boolean;
  includeAll?: boolean;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
}

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const expressions = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
const variable = (name: string): Variable | undefined => dashboard.templating.list.find((v) => v.name === name);
const variableQuery = (v: Variable): string => (typeof v.query === 'string' ? v.query : v.query.query);
/** `label_values(<selector>, instance)`: Grafana's variable query, whose selector is PromQL. */
const LABEL_VALUES = /^label_values\((.+),\s*instance\)$/;

/** Values standing in for Grafana's variables, so that an expression is plain PromQL. */
const GRAFANA_VARIABLES: Record<string, string> = {
  instance: 'ingest-a:9464|ingest-b:9464', // a multi-select expands to an alternation
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
};

function asPromql(expr: string, variables: Record<string, string> = GRAFANA_VARIABLES): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return value;
  });
}

/** `promtool check rules` on a rules file recording each expression (JSON is YAML). */
function promtoolCheckRules(exprs: string[]): Promise<{ code: number | null; output: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-dashboard-rules-'));
  const file = path.join(dir, 'dashboard.rules.yml');
  const rules = exprs.map((expr, i) => ({ record: `dashboard:expression_${i}`, expr }));
  fs.writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }, null, 2));
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'rules', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.once('error', (err: NodeJS.ErrnoException) => {
      fs.rmSync(dir, { recursive: true, force: true });
      reject(
        err.code === 'ENOENT'
          ? new Error('promtool is not installed: install the Debian package "prometheus" (.ci/run does)')
          : err,
      );
    });
    child.once('close', (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, output });
    });
  });
}

test('the dashboard is importable anywhere: uid, title, schema version, a Prometheus datasource variable', () => {
  assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
  assert.ok(dashboard.title.length > 0);
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36, 'schemaVersion set');
  const datasource = variable('datasource');
  assert.equal(datasource?.type, 'datasource');
  assert.equal(datasource?.query, 'prometheus');
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dashboard.panels) assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
});

test('every panel and every query uses the datasource variable and selects the chosen instances', () => {
  assert.ok(queryPanels.length >= 10);
  for (const panel of queryPanels) {
    assert.equal(panel.datasource?.uid, DATASOURCE, `${panel.title}: panel datasource`);
    assert.ok((panel.targets ?? []).length > 0, `${panel.title} has a query`);
    for (const target of panel.targets ?? []) {
      const where = `${panel.title} ${target.refId}`;
      assert.equal(target.datasource?.uid, DATASOURCE, `${where}: target datasource`);
      const expr = target.expr ?? '';
      const selectors = expr.match(/[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}/g) ?? [];
      assert.equal(selectors.length, metricNamesIn(expr).length, `${where}: one selector per metric`);
      for (const selector of selectors) assert.ok(selector.includes(INSTANCE_MATCHER), `${where}: ${selector}`);
      assert.match(expr, /\bby \(instance\b/, `${where}: one series per instance`);
    }
  }
  const instance = variable('instance');
  assert.equal(instance?.type, 'query');
  assert.equal(instance?.datasource?.uid, DATASOURCE);
  assert.equal(instance?.multi, true);
  assert.match(variableQuery(instance), LABEL_VALUES);
});

test('promtool parses every expression of the dashboard (and rejects a broken one)', { timeout: 30_000 }, async () => {
  const selector = LABEL_VALUES.exec(variableQuery(variable('instance')!))![1];
  const exprs = [...expressions, selector].map((e) => asPromql(e));
  const checked = await promtoolCheckRules(exprs);
  assert.equal(checked.code, 0, `promtool check rules:\n${checked.output}`);
  assert.match(checked.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));

  const broken = await promtoolCheckRules(['sum by (instance) (rate(ingest_frames_received_total[1m])']);
  assert.notEqual(broken.code, 0, 'a missing parenthesis is an error');
});

test(
  'every metric the dashboard reads is one a running service exports (a real scrape)',
  { timeout: 120_000 },
  async (t) => {
    const { cluster } = await startRedisCluster(t, 'dashboard');
    const scrape = await scrapeMetrics(cluster.metricsPort);
    assert.equal(scrape.status, 200);
    const exported = scrapedMetricFamilies(scrape.body);
    const selector = LABEL_VALUES.exec(variableQuery(variable('instance')!))![1];
    const read = new Set([...expressions, selector].flatMap((e) => metricNamesIn(asPromql(e))));
    assert.ok(read.size >= 20, `the dashboard reads ${read.size} metrics`);
    const unknown = [...read].filter((name) => !exported.has(name));
    assert.deepEqual(unknown, [], 'metrics the dashboard reads that the service does not export');
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);

interface QueryAnswer {
  result: Array<{ metric: Record<string, string> }>;
}

test(
  "a real Prometheus scraping the service: the instance variable finds it, every panel's query answers " +
    'for that instance only, with series wherever the scrape had samples of every metric the query reads',
  { timeout: 120_000 },
  async (t) => {
    const setup = await startRedisCluster(t, 'dashboard-prom', { BUFFER_DURATION_MS: '200' });
    const client = await IngestClient.connect(setup.url, { token: setup.token });
    await client.start({ interactionId: 'dashboard' });
    for (let seq = 1; seq <= 50; seq++) client.sendFrame(frameBytes(0, seq));
    assert.equal((await client.stop()).close.code, 1000);
    await assert.rejects(IngestClient.connect(setup.url, { token: 'not-a-jwt' }), UpgradeRefused);
    const prometheus = await startPrometheus(t, setup.cluster.metricsPort);
    const instance = `127.0.0.1:${setup.cluster.metricsPort}`;

    const selector = LABEL_VALUES.exec(variableQuery(variable('instance')!))![1];
    const instances = await pollUntil(
      async () => {
        const answer = await prometheus.api(`/api/v1/series?match[]=${encodeURIComponent(selector)}`);
        const found = (answer.data as Array<Record<string, string>>).map((s) => s.instance);
        return found.length > 0 ? found : undefined;
      },
      'Prometheus to scrape the service',
      60_000,
      200,
    );
    assert.deepEqual(instances, [instance], 'the instance variable lists the scraped service');

    const scraped = new Set((await scrapeMetrics(setup.cluster.metricsPort)).samples.map((s) => s.name));
    const hasSamples = (family: string): boolean =>
      ['', '_bucket', '_sum', '_count'].some((suffix) => scraped.has(family + suffix));
    // Grafana puts a selected instance into the regex escaped; 5s covers a few 1s scrapes.
    const variables = { ...GRAFANA_VARIABLES, instance: instance.replace(/\./g, '\\\\.'), __rate_interval: '5s' };
    for (const expr of expressions) {
      const promql = asPromql(expr, variables);
      const expectSeries = metricNamesIn(promql).every(hasSamples);
      const result = await pollUntil(
        async () => {
          const answer = await prometheus.api(`/api/v1/query?query=${encodeURIComponent(promql)}`);
          assert.equal(answer.status, 'success', promql);
          const series = (answer.data as QueryAnswer).result;
          return series.length > 0 || !expectSeries ? series : undefined;
        },
        `series for ${promql}`,
        30_000,
        200,
      );
      for (const series of result) assert.equal(series.metric.instance, instance, promql);
    }
    setup.cluster.child.kill('SIGTERM');
    assert.equal((await setup.cluster.exited).code, 0);
  },
);
