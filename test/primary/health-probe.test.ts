/**
 * The container's health probe (Dockerfile HEALTHCHECK), run as Docker runs it:
 * `node dist/src/primary/health-probe.js` with the container's environment.
 * Healthy service: exit 0. Unhealthy answer, nothing listening, a listener that
 * never answers, a configuration the service would refuse: exit 1, within
 * PROBE_TIMEOUT_MS, with a line saying why.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { PROBE_TIMEOUT_MS } from '../../src/primary/health-probe';
import { ROUTES } from '../../src/shared/routes';
import { startCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { httpGet, pollUntil } from '../support/http-get';
import { REPO_ROOT } from '../support/repo-root';
import { selfSignedCertificate } from '../support/self-signed-certificate';

const PROBE = path.join(REPO_ROOT, 'dist', 'src', 'primary', 'health-probe.js');

interface ProbeRun {
  code: number | null;
  output: string;
  elapsedMs: number;
}

/** The probe with exactly `env` (nothing inherited: the host's PORT or NODE_ENV must not leak in). */
function runProbe(env: Record<string, string>, args: string[] = []): Promise<ProbeRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROBE, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, elapsedMs: Date.now() - started }));
  });
}

/** A server on a free port that answers every request with `handler`; the paths it was asked for. */
async function fakeService(
  t: TestContext,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  tls?: { key: string; cert: string },
): Promise<{ port: number; paths: string[] }> {
  const paths: string[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    paths.push(req.url ?? '');
    handler(req, res);
  };
  const server = tls
    ? https.createServer({ key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert) }, listener)
    : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as net.AddressInfo).port, paths };
}

test('a healthy service on PORT: exit 0, the /health answer in the output', async (t) => {
  const port = await freePort();
  const cluster = await startCluster(t, { PORT: String(port), WORKERS: '1' });
  t.after(async () => {
    cluster.child.kill('SIGTERM');
    await cluster.exited;
  });
  await pollUntil(
    async () => ((await httpGet(`http://127.0.0.1:${port}${ROUTES.health}`)).status === 200 ? true : undefined),
    'the service to answer /health with 200',
  );
  const run = await runProbe({ PORT: String(port), HOST: '127.0.0.1' });
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, new RegExp(`^GET http://127\\.0\\.0\\.1:${port}/health: 200 \\{"status":"healthy"`));
});

test('an unhealthy answer (503): exit 1; the probe asks the /health route', async (t) => {
  const service = await fakeService(t, (_req, res) => {
    res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"status":"unhealthy"}');
  });
  const run = await runProbe({ PORT: String(service.port) });
  assert.equal(run.code, 1, run.output);
  assert.deepEqual(service.paths, [ROUTES.health]);
  assert.match(run.output, /: 503 \{"status":"unhealthy"\}/);
});

test('nothing listening on PORT: exit 1 at once, naming the refused connection', async () => {
  const run = await runProbe({ PORT: String(await freePort()) });
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /ECONNREFUSED/);
  assert.ok(run.elapsedMs < PROBE_TIMEOUT_MS, `${run.elapsedMs} ms`);
});

test('a listener that never answers: exit 1 once PROBE_TIMEOUT_MS has passed, not much later', async (t) => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => silent.close(resolve));
  });
  const run = await runProbe({ PORT: String((silent.address() as net.AddressInfo).port) });
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, new RegExp(`no answer within ${PROBE_TIMEOUT_MS} ms`));
  assert.ok(run.elapsedMs >= PROBE_TIMEOUT_MS, `${run.elapsedMs} ms`);
  // Node's start and the configuration load come on top; Docker's --timeout (5 s, dockerfile test) must not cut in.
  assert.ok(run.elapsedMs < PROBE_TIMEOUT_MS + 1500, `${run.elapsedMs} ms`);
});

test('with SSL_KEY_PATH and SSL_CERT_PATH the probe speaks HTTPS, whatever the certificate names', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-probe-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tls = selfSignedCertificate(dir);
  const service = await fakeService(t, (_req, res) => res.end('{"status":"degraded"}'), tls);
  const run = await runProbe({ PORT: String(service.port), SSL_KEY_PATH: tls.key, SSL_CERT_PATH: tls.cert });
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, new RegExp(`^GET https://127\\.0\\.0\\.1:${service.port}/health: 200`));
});

test('a configuration the service would refuse: exit 1, naming the variable', async () => {
  const run = await runProbe({ PORT: '70000' });
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /^configuration invalid: PORT: got "70000"/);
});

test('an argument picks /live or /ready instead; any other is refused without a request', async (t) => {
  const service = await fakeService(t, (req, res) => res.writeHead(req.url === ROUTES.live ? 200 : 503).end());
  assert.equal((await runProbe({ PORT: String(service.port) }, [ROUTES.live])).code, 0);
  assert.equal((await runProbe({ PORT: String(service.port) }, [ROUTES.ready])).code, 1);
  const other = await runProbe({ PORT: String(service.port) }, [ROUTES.metrics]);
  assert.equal(other.code, 1);
  assert.match(other.output, /^usage: health-probe\.js \[\/health \| \/live \| \/ready\]/);
  assert.deepEqual(service.paths, [ROUTES.live, ROUTES.ready]);
});
