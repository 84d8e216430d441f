/**
 * Starting the service as a user does: `npm start` on a fresh checkout with no
 * broker and no key, a port already taken, and bad configuration (a Redis Cluster
 * key template that would put every record on one shard among it).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { readyWorkerPids, startCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { REPO_ROOT } from '../support/repo-root';

test(
  'npm start with no key and no broker starts 2 workers, logs a working ' +
    'dev token and example command, and stops cleanly on SIGTERM',
  async (t) => {
    const port = await freePort();
    const child = spawn('npm', ['start', '--silent'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        PORT: String(port),
        METRICS_PORT: String(await freePort()),
        WORKERS: '2',
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: SIGTERM reaches npm and the primary as a terminal's would
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    });
    const waitFor = (re: RegExp): Promise<RegExpExecArray> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            child.stdout.off('data', check);
            resolve(m);
          } else if (child.exitCode !== null) reject(new Error(`exited before ${re}: ${out}`));
        };
        child.stdout.on('data', check);
        child.once('close', check);
        check();
      });
    await waitFor(/"msg":"all workers ready"/);
    const [, token] = await waitFor(/"dev_token":"([^"]+)"/);
    assert.match(out, /development only/);
    assert.match(out, new RegExp(`npm run client -- --url ws://localhost:${port}/v1/ingest --token `));
    const client = await IngestClient.connect(`ws://127.0.0.1:${port}/v1/ingest`, { token: token });
    await client.start({ interactionId: 'dev-call' });
    client.sendFrame(Buffer.alloc(320, 1));
    const { stopped, close } = await client.stop();
    assert.equal(close.code, 1000);
    assert.deepEqual(stopped, { type: 'stopped', last_seq: 1, frames: 1 });
    // SIGTERM to the primary, as a supervisor (systemd, the container runtime) sends it; npm passes its exit code on.
    const [, primaryPid] = await waitFor(/"role":"primary","pid":(\d+)/);
    process.kill(Number(primaryPid), 'SIGTERM');
    assert.equal(await closed, 0);
  },
);

test('a port already in use: one clear line naming the port, non-zero exit, no stack trace, no workers', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const cluster = await startCluster(t, { PORT: String(port), WORKERS: '2' });
  const { code } = await cluster.exited;
  assert.equal(code, 1);
  const stderr = cluster.stderr.join('');
  assert.match(stderr, new RegExp(`PORT ${port} is already in use`));
  assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!cluster.logs().some((e) => e.msg === 'worker ready'), 'no worker was started');
});

test('bad configuration: every problem printed at once, exit 78, nothing forked', async (t) => {
  const cluster = await startCluster(t, {
    PORT: '70000',
    WORKERS: '0',
    PUBSUB_ADAPTER: 'rabbitmq',
    ACK_INTERVAL: 'ten',
  });
  const { code } = await cluster.exited;
  assert.equal(code, 78);
  const report = cluster.stderr.join('');
  for (const variable of ['PORT', 'WORKERS', 'PUBSUB_ADAPTER', 'ACK_INTERVAL'])
    assert.match(report, new RegExp(`${variable}: got`));
  assert.equal(cluster.lines.length, 0, 'no log line: nothing started');
});

test('NODE_ENV=production without a JWT key (and without Exotel) refuses to start with 78', async (t) => {
  const cluster = await startCluster(t, {
    NODE_ENV: 'production',
    PUBSUB_ADAPTER: 'in_memory',
    PORT: String(await freePort()),
  });
  const { code } = await cluster.exited;
  assert.equal(code, 78);
  assert.match(cluster.stderr.join(''), /JWT_PUBLIC_KEY/);
});

test('REDIS_CLUSTER_NODES with a stream key whose first {…} is no placeholder refuses to start with 78', async (t) => {
  // Nothing needs to answer on the seeds: the configuration is refused before any connection.
  for (const key of ['ingest:audio', '{ingest}:{tenant_id}:audio']) {
    const cluster = await startCluster(t, {
      PUBSUB_ADAPTER: 'redis_streams',
      REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001',
      REDIS_STREAM_KEY: key,
      PORT: String(await freePort()),
    });
    const { code } = await cluster.exited;
    assert.equal(code, 78, key);
    const report = cluster.stderr.join('');
    assert.match(report, /REDIS_STREAM_KEY: got/, key);
    assert.match(report, /REDIS_CLUSTER_ALLOW_UNTAGGED_KEY/, key);
    assert.equal(cluster.lines.length, 0, 'no log line: nothing started');
  }
});

test('a worker killed with SIGKILL is replaced by the primary', async (t) => {
  const port = await freePort();
  const cluster = await startCluster(t, { PORT: String(port), WORKERS: '2' });
  await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
  // The primary's own lines: a worker's 'worker ready' may reach the pipe after the primary's 'all workers ready'.
  const ready = readyWorkerPids(cluster);
  const victim = ready[0];
  process.kill(victim, 'SIGKILL');
  await cluster.waitForLog(
    (e) => e.msg === 'worker exited unexpectedly: replacing it' && e.signal === 'SIGKILL',
    'exit noticed',
  );
  await cluster.waitForLog(
    (e) => e.role === 'primary' && e.msg === 'worker ready' && !ready.includes(e.worker_pid as number),
    'replacement ready',
  );
  cluster.child.kill('SIGTERM');
  assert.equal((await cluster.exited).code, 0);
});

test('workers get the V8 flags of WORKER_MAX_SEMI_SPACE_MB and WORKER_HEAP_GROWING_PERCENT, none at 0', async (t) => {
  for (const [settings, flags] of [
    [{}, ['--max-semi-space-size=16', '--heap-growing-percent=300']],
    [{ WORKER_MAX_SEMI_SPACE_MB: '0', WORKER_HEAP_GROWING_PERCENT: '0' }, []],
  ] as const) {
    const env: Record<string, string> = { PORT: String(await freePort()), WORKERS: '1', ...settings };
    const cluster = await startCluster(t, env);
    await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
    const [worker] = readyWorkerPids(cluster);
    const args = readFileSync(`/proc/${worker}/cmdline`, 'utf8').split('\0');
    const v8Flags = args.filter((a) => a.startsWith('--max-semi-space-size') || a.startsWith('--heap-growing-percent'));
    assert.deepEqual(v8Flags, flags, `worker command line: ${args.join(' ')}`);
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  }
});
