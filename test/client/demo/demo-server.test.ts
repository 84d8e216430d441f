/**
 * The browser demo's server and `npm run demo`: what the page loads and how,
 * the token handed only to its own origin and only on a loopback address, the
 * token of a running service taken from INGEST_TOKEN, the refusal in production, and the
 * whole command on a development machine (the built service with its
 * development token, which the service then accepts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { IngestClient } from '../../../src/client/ingest-client';
import { DemoServer, DemoServerError } from '../../../src/client/demo/demo-server';
import { freePorts } from '../../support/free-port';
import { httpGet } from '../../support/http-get';
import { REPO_ROOT } from '../../support/repo-root';

const DEMO_COMMAND = path.join(REPO_ROOT, 'dist', 'src', 'client', 'demo', 'demo-command.js');

async function startDemoServer(t: TestContext): Promise<string> {
  const server = new DemoServer({ serviceUrl: 'ws://127.0.0.1:5999/v1/ingest', token: () => 'token-1' });
  t.after(() => server.close());
  return server.start();
}

/** A GET with a raw path and Host header of the test's choosing. */
function rawGet(pageUrl: string, rawPath: string, host?: string): Promise<number> {
  const { hostname, port } = new URL(pageUrl);
  return new Promise((resolve, reject) => {
    const req = http.get({ hostname, port, path: rawPath, agent: false, headers: host ? { Host: host } : {} }, (res) =>
      resolve(res.resume().statusCode ?? 0),
    );
    req.on('error', reject);
  });
}

test('the demo server serves the page, its modules as JavaScript, the client build, service URL, token', async (t) => {
  const page = await startDemoServer(t);
  const index = await httpGet(page);
  assert.equal(index.status, 200);
  assert.match(index.body, /"@ingest\/client": "\/client\/index\.js"/);
  for (const script of ['demo-page.mjs', 'capture-worklet.mjs', 'pcm-resampler.mjs', 'client/index.js']) {
    const answer = await httpGet(page + script);
    assert.equal(answer.status, 200, script);
    assert.equal(answer.headers['content-type'], 'text/javascript; charset=utf-8', script);
  }
  assert.deepEqual(JSON.parse((await httpGet(`${page}config.json`)).body), {
    serviceUrl: 'ws://127.0.0.1:5999/v1/ingest',
  });
  const token = await httpGet(`${page}token`);
  assert.deepEqual(JSON.parse(token.body), { token: 'token-1' });
  assert.equal(token.headers['cache-control'], 'no-store');
});

test('the demo server answers nothing outside its folders, and nothing to a request for another Host', async (t) => {
  const page = await startDemoServer(t);
  assert.equal(await rawGet(page, '/../package.json'), 404);
  assert.equal(await rawGet(page, '/%2e%2e/%2e%2e/package.json'), 404);
  assert.equal(await rawGet(page, '/client/..%2f..%2fpackage.json'), 404);
  assert.equal(await rawGet(page, '/demo-server.js'), 404);
  assert.equal(await rawGet(page, '/token', 'attacker.example:80'), 403);
  assert.equal(await rawGet(page, '/token', `localhost:${new URL(page).port}`), 200);
});

/** Runs `npm run demo` to its exit (one that refuses to start). */
async function demoRefusal(args: string[], env: Record<string, string>): Promise<{ code: unknown; stderr: string }> {
  const child = spawn(process.execPath, [DEMO_COMMAND, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise((resolve) => child.once('close', resolve));
  return { code, stderr };
}

test('npm run demo refuses NODE_ENV=production: exit 78 and a message saying why', async () => {
  const { code, stderr } = await demoRefusal([], { NODE_ENV: 'production' });
  assert.equal(code, 78);
  assert.match(stderr, /development tool.*refuses to run with NODE_ENV=production/);
});

test('the demo listens only on loopback: DemoServer and npm run demo refuse --host 0.0.0.0', async () => {
  const server = new DemoServer({ serviceUrl: 'ws://127.0.0.1:5999/v1/ingest', token: () => 't', host: '0.0.0.0' });
  await assert.rejects(server.start(), (err) => err instanceof DemoServerError && err.code === 'host_not_loopback');
  const { code, stderr } = await demoRefusal(['--url', 'ws://127.0.0.1:9/v1/ingest', '--host', '0.0.0.0'], {
    INGEST_TOKEN: 'jwt',
  });
  assert.equal(code, 2);
  assert.match(stderr, /--host 0\.0\.0\.0 is not a loopback address/);
});

test("npm run demo takes a running service's token from INGEST_TOKEN, never from a flag", async (t) => {
  const refused = await demoRefusal(['--url', 'ws://127.0.0.1:9/v1/ingest', '--token', 'jwt'], {});
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /INGEST_TOKEN/);
  assert.equal((await demoRefusal(['--url', 'ws://127.0.0.1:9/v1/ingest'], {})).code, 2, 'no token at all');
  const [demoPort] = await freePorts(1);
  const child = spawn(
    process.execPath,
    [DEMO_COMMAND, '--url', 'ws://127.0.0.1:9/v1/ingest', '--port', String(demoPort)],
    {
      env: { PATH: process.env.PATH ?? '', INGEST_TOKEN: 'jwt-from-env' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stdout = '';
  const pageUrl = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const found = /demo: open (\S+)/.exec(stdout);
      if (found) resolve(found[1]);
    });
    void exited.then((code) => reject(new Error(`npm run demo exited (${code}): ${stdout}`)));
  });
  assert.deepEqual(JSON.parse((await httpGet(`${pageUrl}token`)).body), { token: 'jwt-from-env' });
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('npm run demo starts the service, serves the page and a development token the service accepts', async (t) => {
  const [port, metricsPort, demoPort] = await freePorts(3);
  const child = spawn(process.execPath, [DEMO_COMMAND, '--port', String(demoPort)], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      WORKERS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const pageUrl = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const found = /demo: open (\S+)/.exec(stdout);
      if (found) resolve(found[1]);
    });
    void exited.then((code) => reject(new Error(`npm run demo exited (${code}): ${stderr}\n${stdout}`)));
  });
  assert.equal(pageUrl, `http://127.0.0.1:${demoPort}/`);
  assert.match(stdout, new RegExp(`demo: streaming to ws://127\\.0\\.0\\.1:${port}/v1/ingest`));
  const { serviceUrl } = JSON.parse((await httpGet(`${pageUrl}config.json`)).body) as { serviceUrl: string };
  const { token } = JSON.parse((await httpGet(`${pageUrl}token`)).body) as { token: string };
  const client = await IngestClient.connect(serviceUrl, { token });
  await client.start({ interactionId: 'demo-command-check' });
  client.sendFrame(Buffer.alloc(320, 1));
  const { close } = await client.stop();
  assert.equal(close.code, 1000);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
