/**
 * ops/prometheus/ as Prometheus sees it: promtool accepts the scrape config
 * and the alert rules and passes the rules' unit tests; and a real
 * Prometheus, running the shipped config against the built service, loads
 * every rule, evaluates it without error and fires none, while the rules name
 * only metric families that the service's own scrape exposes. Needs the
 * Debian package `prometheus` (promtool and prometheus); without it these
 * tests fail.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { schema } from '../../src/shared/config/config-schema';
import { startCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { pollUntil } from '../support/http-get';
import { promtool, scrapeMetrics, startPrometheusWith } from '../support/prometheus';
import { metricNamesIn, scrapedMetricFamilies } from '../support/promql-metric-names';
import { REPO_ROOT } from '../support/repo-root';

const DIR = path.join(REPO_ROOT, 'ops', 'prometheus');
const CONFIG = path.join(DIR, 'prometheus.yml');
const RULES = path.join(DIR, 'ingest-alerts.yml');
const RULE_TESTS = path.join(DIR, 'ingest-alerts.test.yml');
const OPERATIONS_DOC = path.join(REPO_ROOT, 'docs', 'operations.md');

/** Series that Prometheus itself adds to every target's scrape, not the service. */
const SCRAPE_SERIES = new Set(['up']);

test('promtool check config accepts ops/prometheus/prometheus.yml with its rule file', async () => {
  const { code, output } = await promtool(['check', 'config', CONFIG]);
  assert.equal(code, 0, `promtool check config:\n${output}`);
  assert.match(output, /SUCCESS: 1 rule files found/);
});

test('promtool check rules accepts ops/prometheus/ingest-alerts.yml', async () => {
  const { code, output } = await promtool(['check', 'rules', RULES]);
  assert.equal(code, 0, `promtool check rules:\n${output}`);
});

test('promtool test rules: every alert fires where it should and nowhere else', async () => {
  const { code, output } = await promtool(['test', 'rules', RULE_TESTS]);
  assert.equal(code, 0, `promtool test rules:\n${output}`);
  const rules = fs.readFileSync(RULES, 'utf8');
  const tests = fs.readFileSync(RULE_TESTS, 'utf8');
  const alerts = [...rules.matchAll(/^\s*- alert: (\S+)/gm)].map((m) => m[1]);
  assert.ok(alerts.length >= 8, `alerts found: ${alerts.join(', ')}`);
  for (const alert of alerts) assert.match(tests, new RegExp(`alertname: ${alert}\\n`), `${alert} has a unit test`);
});

test("the scrape config targets METRICS_PORT's default and waits longer than a scrape of the workers may take", () => {
  const config = fs.readFileSync(CONFIG, 'utf8');
  assert.ok(config.includes(`- localhost:${schema.metricsPort.default}\n`), 'the example target is METRICS_PORT');
  const timeout = /^\s*scrape_timeout: (\d+)s$/m.exec(config);
  assert.ok(timeout, 'scrape_timeout is set');
  assert.ok(Number(timeout[1]) * 1000 > schema.metricsScrapeTimeoutMs.default, 'above METRICS_SCRAPE_TIMEOUT_MS');
});

interface RulesAnswer {
  groups: Array<{
    rules: Array<{
      name: string;
      query: string;
      type: string;
      state: string;
      health: string;
      lastError?: string;
      lastEvaluation: string;
      annotations: Record<string, string>;
    }>;
  }>;
}

interface QueryAnswer {
  result: Array<{ value: [number, string] }>;
}

/** GitHub's anchors for the Markdown headings of a file. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm))
    anchors.add(
      heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  return anchors;
}

/** The shipped config, pointed at one local target and evaluated every second, with the rule file beside it. */
function testConfig(metricsPort: number): (dir: string) => string {
  return (dir) => {
    const edits: Array<[string, string]> = [
      [`localhost:${schema.metricsPort.default}`, `127.0.0.1:${metricsPort}`],
      ['scrape_interval: 15s', 'scrape_interval: 1s'],
      ['scrape_timeout: 5s', 'scrape_timeout: 1s'],
      ['evaluation_interval: 15s', 'evaluation_interval: 1s'],
    ];
    let config = fs.readFileSync(CONFIG, 'utf8');
    for (const [from, to] of edits) {
      assert.ok(config.includes(from), `prometheus.yml has "${from}"`);
      config = config.replace(from, to);
    }
    fs.copyFileSync(RULES, path.join(dir, path.basename(RULES)));
    const file = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(file, config);
    return file;
  };
}

test(
  'a real Prometheus on the shipped config scrapes the service, evaluates every rule without error and ' +
    'fires none; the rules name only metrics the service exports, and each links a runbook that exists',
  { timeout: 120_000 },
  async (t) => {
    const cluster = await startCluster(t, { PORT: String(await freePort()), WORKERS: '2' });
    await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
    const prometheus = await startPrometheusWith(t, testConfig(cluster.metricsPort));

    await pollUntil(
      async () => {
        const answer = await prometheus.api(`/api/v1/query?query=${encodeURIComponent('up{job="ingest"}')}`);
        return (answer.data as QueryAnswer).result[0]?.value[1] === '1' ? true : undefined;
      },
      'Prometheus to scrape the service',
      60_000,
      200,
    );
    const scraped = Date.now();
    const rules = await pollUntil(
      async () => {
        const answer = await prometheus.api('/api/v1/rules');
        const all = (answer.data as RulesAnswer).groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((r) => Date.parse(r.lastEvaluation) > scraped) ? all : undefined;
      },
      'every rule to be evaluated after the first scrape',
      60_000,
      200,
    );

    const anchors = headingAnchors(fs.readFileSync(OPERATIONS_DOC, 'utf8'));
    const families = scrapedMetricFamilies((await scrapeMetrics(cluster.metricsPort)).body);
    const fileAlerts = [...fs.readFileSync(RULES, 'utf8').matchAll(/^\s*- alert: (\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(rules.map((r) => r.name).sort(), [...fileAlerts].sort(), 'Prometheus loaded every rule');
    for (const rule of rules) {
      assert.equal(rule.type, 'alerting');
      assert.equal(rule.health, 'ok', `${rule.name} evaluates: ${rule.lastError ?? ''}`);
      assert.equal(rule.state, 'inactive', `${rule.name} does not fire on a healthy service`);
      const names = metricNamesIn(rule.query);
      assert.ok(names.length > 0, `${rule.name} reads a metric`);
      for (const name of names)
        assert.ok(families.has(name) || SCRAPE_SERIES.has(name), `${rule.name}: ${name} is not exported`);
      assert.ok(rule.annotations.summary && rule.annotations.description, `${rule.name} has summary and description`);
      const runbook = /^docs\/operations\.md#(.+)$/.exec(rule.annotations.runbook_url ?? '');
      assert.ok(runbook, `${rule.name}: runbook_url points into docs/operations.md`);
      assert.ok(anchors.has(runbook[1]), `${rule.name}: docs/operations.md has the heading #${runbook[1]}`);
    }
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);
