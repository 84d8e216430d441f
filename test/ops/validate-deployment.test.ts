/**
 * ops/validate-deployment.sh against a good host (every check green, exit 0)
 * and against each kind of bad one (its check red, exit 1, the line naming the
 * problem), with the real Redis and Kafka that test/run-tests.js keeps up.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, freePorts } from '../support/free-port';
import { SHARED_BROKERS } from '../support/kafka';
import { REDIS_URL } from '../support/redis';
import { REPO_ROOT } from '../support/repo-root';
import { expiredCertificate, selfSignedCertificate } from '../support/self-signed-certificate';
import { uniqueName } from '../support/unique-name';
import { fdsForStreams } from '../../src/primary/deployment/fd-budget';

const SCRIPT = path.join('ops', 'validate-deployment.sh');

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/**
 * Runs `command` (bash words) in `root` with exactly `settings` and a PATH whose
 * first node is this one (nothing else inherited: the host's NODE_ENV or PORT
 * cannot leak in).
 */
function run(command: string[], settings: NodeJS.ProcessEnv, root = REPO_ROOT): Promise<Run> {
  const env = { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...settings };
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function validate(settings: NodeJS.ProcessEnv, root = REPO_ROOT): Promise<Run> {
  return run(['bash', SCRIPT], settings, root);
}

/** A Redis deployment on free ports: every check passes on it. */
async function goodSettings(): Promise<NodeJS.ProcessEnv> {
  const [port, metricsPort] = await freePorts(2);
  return {
    PUBSUB_ADAPTER: 'redis_streams',
    REDIS_URL,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    HOST: '127.0.0.1',
    METRICS_HOST: '127.0.0.1',
    WORKERS: '2',
    // Small, so that the green path does not depend on this machine's descriptor limit.
    MAX_CONNECTIONS_PER_WORKER: '100',
    BACKEND_CONNECT_TIMEOUT_MS: '2000',
  };
}

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-deployment-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The line of one check: `OK|WARN|FAIL|SKIP  <check>  <message>`. */
function line(output: string, check: string): string {
  const found = output.split('\n').find((text) => new RegExp(`^(OK|WARN|FAIL|SKIP) +${check} `).test(text));
  assert.ok(found, `no line for the ${check} check in:\n${output}`);
  return found;
}

function assertLevel(output: string, check: string, level: 'OK' | 'WARN' | 'FAIL' | 'SKIP', message?: RegExp): void {
  const text = line(output, check);
  assert.ok(text.startsWith(level), `${check} should be ${level}:\n${output}`);
  if (message) assert.match(text, message, output);
}

function listen(port: number, host: string, t: TestContext): Promise<void> {
  const server = net.createServer();
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
}

test('a good Redis deployment with TLS: every check green, exit 0, no colour off a terminal', async (t) => {
  const { key, cert } = selfSignedCertificate(tempDir(t), '', 365);
  const { code, output } = await validate({ ...(await goodSettings()), SSL_KEY_PATH: key, SSL_CERT_PATH: cert });
  assert.equal(code, 0, output);
  for (const check of ['node', 'build', 'config', 'redis', 'tls', 'fds', 'ports']) assertLevel(output, check, 'OK');
  assertLevel(output, 'redis', 'OK', /answered PING/);
  assertLevel(output, 'tls', 'OK', /expires in 36[45] days/);
  assertLevel(output, 'kafka', 'SKIP', /PUBSUB_ADAPTER=redis_streams/);
  assert.match(output, /ready to start\n$/);
  assert.ok(!output.includes('\u001b['), 'no colour when stdout is not a terminal');
});

test('a good Kafka deployment: the brokers answer a metadata request, exit 0', async () => {
  const { code, output } = await validate({
    ...(await goodSettings()),
    PUBSUB_ADAPTER: 'kafka',
    KAFKA_BROKERS: SHARED_BROKERS.join(','),
    KAFKA_CREATE_TOPIC: 'true',
  });
  assert.equal(code, 0, output);
  assertLevel(output, 'kafka', 'OK', /answered a metadata request; topic ingest\.audio/);
  assertLevel(output, 'redis', 'SKIP', /PUBSUB_ADAPTER=kafka/);
});

test('a certificate that expires within 30 days is yellow, not a failure', async (t) => {
  const { key, cert } = selfSignedCertificate(tempDir(t), '', 1);
  const { code, output } = await validate({ ...(await goodSettings()), SSL_KEY_PATH: key, SSL_CERT_PATH: cert });
  assert.equal(code, 0, output);
  assertLevel(output, 'tls', 'WARN', /expires in 0 days .*renew it/);
});

test('bad configuration: the config check is red and lists the variable; the checks that need it skip', async () => {
  const { code, output } = await validate({ ...(await goodSettings()), PORT: '70000' });
  assert.equal(code, 1, output);
  assertLevel(output, 'config', 'FAIL', /configuration invalid: 1 problem/);
  assert.match(output, /^ +PORT: got "70000"/m);
  for (const check of ['redis', 'tls', 'fds', 'ports']) assertLevel(output, check, 'SKIP', /configuration is invalid/);
  assert.match(output, /1 check\(s\) failed/);
});

test('Redis unreachable (a closed port): red, naming REDIS_URL and the refusal', async () => {
  const closed = await freePort();
  const { code, output } = await validate({ ...(await goodSettings()), REDIS_URL: `redis://127.0.0.1:${closed}` });
  assert.equal(code, 1, output);
  assertLevel(
    output,
    'redis',
    'FAIL',
    new RegExp(`REDIS_URL 127\\.0\\.0\\.1:${closed} did not answer PING.*ECONNREFUSED`),
  );
});

test('Kafka unreachable (a closed port): red, naming KAFKA_BROKERS', async () => {
  const closed = await freePort();
  const { code, output } = await validate({
    ...(await goodSettings()),
    PUBSUB_ADAPTER: 'kafka',
    KAFKA_BROKERS: `127.0.0.1:${closed}`,
  });
  assert.equal(code, 1, output);
  assertLevel(output, 'kafka', 'FAIL', new RegExp(`KAFKA_BROKERS 127\\.0\\.0\\.1:${closed} did not answer`));
});

test('Kafka topic missing without KAFKA_CREATE_TOPIC: red, since the service would exit 78', async () => {
  const topic = uniqueName('validate-missing');
  const { code, output } = await validate({
    ...(await goodSettings()),
    PUBSUB_ADAPTER: 'kafka',
    KAFKA_BROKERS: SHARED_BROKERS.join(','),
    KAFKA_TOPIC: topic,
  });
  assert.equal(code, 1, output);
  assertLevel(output, 'kafka', 'FAIL', new RegExp(`topic ${topic} does not exist.*KAFKA_CREATE_TOPIC=true`));
});

test('an expired certificate: red, saying since when', async (t) => {
  const { key, cert } = expiredCertificate(tempDir(t));
  const { code, output } = await validate({ ...(await goodSettings()), SSL_KEY_PATH: key, SSL_CERT_PATH: cert });
  assert.equal(code, 1, output);
  assertLevel(output, 'config', 'OK');
  assertLevel(output, 'tls', 'FAIL', /expired \d+ days ago \(Jan {2}2 00:00:00 2000 GMT\)/);
});

test("a key that does not match the certificate: the service's own rule makes the config check red", async (t) => {
  const dir = tempDir(t);
  const { key } = selfSignedCertificate(dir, 'one-', 365);
  const { cert } = selfSignedCertificate(dir, 'other-', 365);
  const { code, output } = await validate({ ...(await goodSettings()), SSL_KEY_PATH: key, SSL_CERT_PATH: cert });
  assert.equal(code, 1, output);
  assertLevel(output, 'config', 'FAIL');
  assert.match(output, /^ +SSL_KEY_PATH: .*this key does not match it/m);
});

test('a file-descriptor limit below MAX_CONNECTIONS_PER_WORKER: red, with the arithmetic', async () => {
  const { code, output } = await run(['bash', '-c', `ulimit -n 64 && exec bash ${SCRIPT}`], await goodSettings());
  assert.equal(code, 1, output);
  assertLevel(
    output,
    'fds',
    'FAIL',
    new RegExp(`ulimit -Hn is 64, below the ${fdsForStreams(100)} a worker needs \\(MAX_CONNECTIONS_PER_WORKER 100,`),
  );
});

test('PORT and METRICS_PORT in use: red, naming both', async (t) => {
  const settings = await goodSettings();
  await listen(Number(settings.PORT), '127.0.0.1', t);
  await listen(Number(settings.METRICS_PORT), '127.0.0.1', t);
  const { code, output } = await validate(settings);
  assert.equal(code, 1, output);
  assertLevel(output, 'ports', 'FAIL', new RegExp(`PORT ${settings.PORT} is already in use`));
  assertLevel(output, 'ports', 'FAIL', new RegExp(`METRICS_PORT ${settings.METRICS_PORT} is already in use`));
});

test('a HOST this machine lacks: the ports check is red with the bind error, not only for a port in use', async () => {
  const settings = await goodSettings();
  // 192.0.2.1 (TEST-NET-1) is on no interface here.
  const { code, output } = await validate({ ...settings, HOST: '192.0.2.1' });
  assert.equal(code, 1, output);
  assertLevel(
    output,
    'ports',
    'FAIL',
    new RegExp(`PORT ${settings.PORT} cannot be bound on 192\\.0\\.2\\.1 \\(EADDRNOTAVAIL\\)`),
  );
});

test('an entry point missing from the build: red, naming it; the rest is not checked', async (t) => {
  const root = tempDir(t);
  for (const file of [
    'package.json',
    'ops/validate-deployment.sh',
    'ops/entry-points.txt',
    'ops/check-entry-points.js',
    'ops/dev/node.sh',
  ]) {
    fs.cpSync(path.join(REPO_ROOT, file), path.join(root, file));
  }
  fs.cpSync(path.join(REPO_ROOT, 'dist', 'src'), path.join(root, 'dist', 'src'), { recursive: true });
  fs.rmSync(path.join(root, 'dist', 'src', 'worker', 'main.js'));
  const { code, output } = await validate(await goodSettings(), root);
  assert.equal(code, 1, output);
  assertLevel(output, 'build', 'FAIL', /^FAIL +build +missing dist\/src\/worker\/main\.js: run `npm ci`/);
  for (const check of ['config', 'redis', 'ports']) assertLevel(output, check, 'SKIP', /needs the build output/);
});

test('no Node.js where NODE points: red, and nothing else is checked', async () => {
  const { code, output } = await validate({ ...(await goodSettings()), NODE: '/nonexistent/node' });
  assert.equal(code, 1, output);
  assertLevel(output, 'node', 'FAIL', /no Node\.js at "\/nonexistent\/node"/);
  assert.doesNotMatch(output, /^(OK|FAIL|SKIP) +build/m);
});

test("the repository's shell scripts are shellcheck clean", async () => {
  const { code, output } = await run(['shellcheck', SCRIPT, 'ops/dev/node.sh', 'ops/dev/kafka.sh', '.ci/run'], {});
  assert.equal(code, 0, output);
});
