/**
 * Reading what the primary serves on METRICS_PORT the way Prometheus does:
 * scraping and parsing the text exposition, linting it with `promtool check
 * metrics`, and running a real Prometheus server against it. Both tools come
 * from the Debian package `prometheus` (.ci/run installs it); when one is
 * missing the test fails with a line that says so, it never skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './free-port';
import { httpGet, pollUntil, type HttpAnswer } from './http-get';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a text exposition (comments and blank lines skipped). */
export function parseExposition(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`not an exposition sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(LABEL_PAIR))
      labels[key] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * The value of the one sample named `name` whose labels include `labels`;
 * undefined when none, an error when several.
 */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name}${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

export interface Scrape extends HttpAnswer {
  readonly samples: Sample[];
  /** sampleValue over this scrape. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

/** GET /metrics on the primary's metrics port, parsed. */
export async function scrapeMetrics(metricsPort: number): Promise<Scrape> {
  const answer = await httpGet(`http://127.0.0.1:${metricsPort}/metrics`);
  const samples = answer.status === 200 ? parseExposition(answer.body) : [];
  return { ...answer, samples, value: (name, labels) => sampleValue(samples, name, labels) };
}

/** Runs a command to completion with `input` on stdin; a missing binary is an error naming the package. */
function runTool(command: string, args: string[], input: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new Error(`${command} is not installed: install the Debian package "prometheus" (.ci/run does)`)
          : err,
      ),
    );
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.on('error', () => undefined); // a tool that exits early closes its stdin: the exit code tells
    child.stdin.end(input);
  });
}

/** `promtool check metrics < exposition`: exit code 0 means no problem and no lint warning. */
export function promtoolCheckMetrics(exposition: string): Promise<{ code: number | null; output: string }> {
  return runTool('promtool', ['check', 'metrics'], exposition);
}

/** `promtool <args>` (e.g. `check rules FILE`), nothing on stdin; exit code 0 means success. */
export function promtool(args: string[]): Promise<{ code: number | null; output: string }> {
  return runTool('promtool', args, '');
}

export interface PrometheusServer {
  readonly url: string;
  readonly child: ChildProcess;
  /** GET a path of the HTTP API and parse the JSON answer. */
  api(pathAndQuery: string): Promise<{ status: string; data: unknown }>;
}

/**
 * Starts `prometheus` on a free port, scraping 127.0.0.1:`targetPort` every
 * second, with its data in a temporary directory; killed and cleaned up
 * after the test. Resolves once /-/ready answers 200.
 */
export function startPrometheus(t: TestContext, targetPort: number): Promise<PrometheusServer> {
  return startPrometheusWith(t, (dir) => {
    const configFile = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(
      configFile,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: ingest',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${targetPort}']`,
        '',
      ].join('\n'),
    );
    return configFile;
  });
}

/**
 * Starts `prometheus` on a free port with the configuration `writeConfig`
 * writes into a fresh temporary directory (it returns the file's path), its
 * data there too; killed and cleaned up after the test. Resolves once
 * /-/ready answers 200.
 */
export async function startPrometheusWith(
  t: TestContext,
  writeConfig: (dir: string) => string,
): Promise<PrometheusServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-prometheus-'));
  const configFile = writeConfig(dir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (log = (log + c).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const failedToSpawn = new Promise<never>((_, reject) =>
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new Error('prometheus is not installed: install the Debian package "prometheus" (.ci/run does)')
          : err,
      ),
    ),
  );
  failedToSpawn.catch(() => undefined);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ready = pollUntil(
    async () => ((await httpGet(`${url}/-/ready`, 5_000)).status === 200 ? true : undefined),
    'prometheus to be ready',
    60_000,
    100,
  );
  const died = exited.then(() => {
    throw new Error(`prometheus exited before it was ready: ${log}`);
  });
  await Promise.race([ready, failedToSpawn, died]);
  return {
    url,
    child,
    async api(pathAndQuery) {
      const answer = await httpGet(`${url}${pathAndQuery}`, 10_000);
      return JSON.parse(answer.body) as { status: string; data: unknown };
    },
  };
}
