/**
 * Three instances (each its own primary and worker, its own PORT and
 * METRICS_PORT, one Redis stream key, REDIS_DEDUPLICATE on) behind the real
 * HAProxy running ops/haproxy/haproxy.cfg, with 300 calls streamed through it
 * by ingest-loadgen (20 ms frames of 320 bytes, resuming as protocol.md 1.4
 * says, read back from Redis with --verify). Each instance in turn stopped
 * with SIGTERM and started again, each rolled with SIGHUP, or one killed with
 * SIGKILL: no client ever sees a refused upgrade (HAProxy retries 503s and
 * failed connects on another server), every call ends with stopped, and no
 * committed frame is missing.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { LoadgenReport } from '../../src/client/loadgen/loadgen-report';
import { killInstance } from '../support/cluster';
import { haproxyEnv, SERVER_DOWN, SERVER_UP, startHaproxy, type RunningHaproxy } from '../support/haproxy';
import { pollUntil } from '../support/http-get';
import { REDIS_URL, redisScratch } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { makeKeyPair } from '../support/tokens';
import { privateKeyFile, startLoadgenCli, verifyOf } from '../client/loadgen/loadgen-run-cli';

const INSTANCES = 3;
const CALLS = 300;
/** One worker each (2 shared cores); records published 200 ms after their first frame, so commits come quickly. */
const INSTANCE_ENV = {
  WORKERS: '1',
  ACK_INTERVAL: '10',
  BUFFER_DURATION_MS: '200',
  DRAIN_TIMEOUT_MS: '500',
  REDIS_DEDUPLICATE: 'true',
  // The dedup keys live outside the test's key prefix: let them expire soon after.
  REDIS_DEDUP_TTL_SECONDS: '600',
};
const SHIPPED_CHECK_INTER = '2s';
/** Long enough for every scenario: the test ends the run with SIGINT once its damage is done. */
const RUN_SECONDS = 600;
const SCENARIO_TIMEOUT_MS = 300_000;

/** The running ingest-loadgen. */
type Calls = ReturnType<typeof startLoadgenCli>;

interface Fleet {
  readonly lb: RunningHaproxy;
  /** The instance now on each slot (replaced by restart). */
  readonly instances: RedisCluster[];
  readonly names: string[];
  readonly streamKey: string;
  readonly keyFile: string;
  /** Starts slot `k` again on its PORT and METRICS_PORT; resolves once HAProxy has it up. */
  restart(k: number): Promise<void>;
}

async function startFleet(t: TestContext, label: string): Promise<Fleet> {
  const keys = makeKeyPair('ec');
  const { prefix } = redisScratch(t, label);
  const streamKey = `${prefix}:audio`;
  const env = { ...INSTANCE_ENV, JWT_PUBLIC_KEY: keys.publicKeyPem };
  const start = (k: number, ports: Record<string, string> = {}): Promise<RedisCluster> =>
    startRedisCluster(t, `${label}-${k + 1}`, { ...env, ...ports }, { streamKey: () => streamKey });
  const instances = await Promise.all(Array.from({ length: INSTANCES }, (_, k) => start(k)));
  const names = instances.map((_, k) => `ingest${k + 1}`);
  // The shipped check interval: HAProxy goes on sending upgrades to a draining, stopped or killed instance
  // until two checks have failed (4 s), and its retries on another server are what keeps them from clients.
  const lb = await startHaproxy(
    t,
    await haproxyEnv(
      t,
      instances.map((i) => i.port),
      SHIPPED_CHECK_INTER,
    ),
  );
  const allUp = Object.fromEntries(names.map((n) => [n, SERVER_UP]));
  await lb.waitForServers(allUp, 'every server up');
  return {
    lb,
    instances,
    names,
    streamKey,
    keyFile: privateKeyFile(t, keys.privateKey),
    async restart(k) {
      const { port, cluster } = instances[k];
      instances[k] = await start(k, { PORT: String(port), METRICS_PORT: String(cluster.metricsPort) });
      await lb.waitForServers(allUp, `${names[k]} up again`);
    },
  };
}

/** 300 calls through the balancer, running once every one has started streaming. */
async function startCalls(t: TestContext, fleet: Fleet): Promise<Calls> {
  const cli = startLoadgenCli(
    [
      ...['--url', fleet.lb.url, '--streams', String(CALLS), '--seconds', String(RUN_SECONDS)],
      ...['--ramp-seconds', '2', '--warmup-seconds', '0.5', '--frame-ms', '20', '--frame-bytes', '320'],
      ...['--private-key', fleet.keyFile, '--tenant', 'tenant-a'],
      ...['--verify', REDIS_URL, '--verify-key', fleet.streamKey, '--json'],
    ],
    SCENARIO_TIMEOUT_MS,
  );
  t.after(() => cli.child.kill('SIGKILL'));
  await cli.waitForStderr(/^loadgen: measuring$/, 'every call started');
  await allStreaming(fleet.lb, cli);
  return cli;
}

/**
 * Resolves once HAProxy holds a session for each of the calls: every client is (back) on an instance.
 * If that does not come, the calls are ended and the error says what the clients saw (refusals, failures).
 */
async function allStreaming(lb: RunningHaproxy, cli: Calls): Promise<Map<string, number>> {
  let last = '';
  return pollUntil(
    async () => {
      const sessions = await lb.sessions();
      last = JSON.stringify([...sessions]);
      return [...sessions.values()].reduce((a, b) => a + b, 0) === CALLS ? sessions : undefined;
    },
    `${CALLS} streams open through HAProxy`,
    60_000,
  ).catch(async (err: Error) => {
    cli.child.kill('SIGINT');
    const report = (await cli.done).report();
    const failed = report.per_stream.filter((s) => s.outcome !== 'done').slice(0, 5);
    throw new Error(
      `${err.message}; sessions per server: ${last}; clients saw refusals ${JSON.stringify(report.refused)}, ` +
        `failed streams (first 5) ${JSON.stringify(failed)}`,
    );
  });
}

/** Ends the calls (SIGINT: each sends stop and waits for stopped), reads their records back, checks the loss. */
async function finishCalls(t: TestContext, fleet: Fleet, cli: Calls): Promise<LoadgenReport> {
  await allStreaming(fleet.lb, cli);
  cli.child.kill('SIGINT');
  const run = await cli.done;
  assert.equal(run.code, 0, run.stderr);
  const report = run.report();
  const verify = verifyOf(report);
  t.diagnostic(
    `closes ${JSON.stringify(report.closes)}, resumes ${report.resumes}, frames sent ${report.frames_sent} ` +
      `(resent ${report.frames_resent}), records ${verify.records}, duplicated frames ${verify.duplicated}, ` +
      `upgrades HAProxy retried ${fleet.lb.retriedUpgrades()}`,
  );
  assert.equal(report.streams_started, CALLS);
  assert.equal(report.streams_failed, 0, 'every call ended with stopped');
  assert.deepEqual(report.refused, {}, 'every upgrade through the balancer got its 101');
  assert.equal(report.failed_connections, 0, 'every connect through the balancer was answered');
  assert.equal(report.closes['1000'], CALLS);
  assert.equal(report.lost_frames, 0);
  assert.equal(verify.missing_committed, 0, 'every committed frame is in Redis');
  assert.equal(verify.missing, 0, 'frames sent after the last commit were sent again and stored');
  assert.equal(verify.corrupt, 0, 'byte for byte');
  assert.equal(verify.out_of_order, 0);
  assert.equal(verify.unreadable, 0);
  assert.equal(verify.foreign, 0);
  assert.equal(verify.frames_found, report.frames_sent);
  // REDIS_DEDUPLICATE: a frame resent after a resume (published, its commit lost) is not stored again.
  assert.equal(verify.duplicated, 0, 'every frame stored once');
  return report;
}

async function timed(t: TestContext, scenario: () => Promise<void>): Promise<void> {
  const began = performance.now();
  await scenario();
  t.diagnostic(`wall time ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

test(
  'rolling deploy behind HAProxy: each of three instances stopped with SIGTERM and started again under 300 calls, ' +
    'no upgrade refused, nothing committed missing',
  { timeout: SCENARIO_TIMEOUT_MS },
  (t) =>
    timed(t, async () => {
      const fleet = await startFleet(t, 'fleet-term');
      const cli = await startCalls(t, fleet);
      for (let k = 0; k < INSTANCES; k++) {
        const { cluster } = fleet.instances[k];
        cluster.child.kill('SIGTERM');
        assert.deepEqual(await cluster.exited, { code: 0, signal: null }, `${fleet.names[k]} drained and exited`);
        await fleet.restart(k);
        await allStreaming(fleet.lb, cli);
      }
      const report = await finishCalls(t, fleet, cli);
      assert.ok((report.closes['1001'] ?? 0) > 0, 'streams of a stopped instance were closed with 1001');
      assert.ok(report.resumes >= report.closes['1001'], 'every 1001 was followed by a resume');
    }),
);

test(
  'SIGHUP roll behind HAProxy: each of three instances rolls its worker under 300 calls, no upgrade refused, ' +
    'nothing committed missing',
  { timeout: SCENARIO_TIMEOUT_MS },
  (t) =>
    timed(t, async () => {
      const fleet = await startFleet(t, 'fleet-hup');
      const cli = await startCalls(t, fleet);
      for (let k = 0; k < INSTANCES; k++) {
        const { cluster } = fleet.instances[k];
        cluster.child.kill('SIGHUP');
        await cluster.waitForLog((e) => e.msg === 'rolling restart complete', `${fleet.names[k]} rolled`, 120_000);
        await allStreaming(fleet.lb, cli);
      }
      const report = await finishCalls(t, fleet, cli);
      assert.ok((report.closes['1012'] ?? 0) > 0, 'streams of a replaced worker were closed with 1012');
      assert.ok(report.resumes >= report.closes['1012'], 'every 1012 was followed by a resume');
    }),
);

test(
  'SIGKILL of one of three instances behind HAProxy under 300 calls: its clients get 1006, resume through the ' +
    'balancer on the others, and every call completes with nothing committed missing',
  { timeout: SCENARIO_TIMEOUT_MS },
  (t) =>
    timed(t, async () => {
      const fleet = await startFleet(t, 'fleet-kill');
      const cli = await startCalls(t, fleet);
      const victim = 1;
      const name = fleet.names[victim];
      const { cluster } = fleet.instances[victim];
      // The whole instance, as `systemctl kill -s KILL` or a dead VM would: workers first, then the primary.
      killInstance(cluster);
      assert.equal((await cluster.exited).signal, 'SIGKILL');
      const onVictim = new Set(cluster.logs().flatMap((e) => (e.msg === 'stream started' ? [e.interaction_id] : [])));
      assert.ok(onVictim.size > 0, `${name} held streams`);
      await fleet.lb.waitForServers({ [name]: SERVER_DOWN }, `${name} down after SIGKILL`);
      const after = await allStreaming(fleet.lb, cli);
      assert.equal(after.get(name), 0, 'every stream resumed on the other instances');
      const report = await finishCalls(t, fleet, cli);
      const cut = report.per_stream.filter((s) => onVictim.has(s.interaction_id));
      assert.equal(cut.length, onVictim.size);
      t.diagnostic(`${onVictim.size} streams logged as started on ${name} when it was killed`);
      for (const s of cut)
        assert.ok((s.closes['1006'] ?? 0) >= 1, `${s.interaction_id} saw 1006: ${JSON.stringify(s)}`);
    }),
);
