/**
 * The worker pool's rules with fake workers and mocked timers: replacement
 * with backoff, what is never replaced, the drain kill timer, the start-up
 * failures that stop the primary. Real processes: test/e2e/crash-*.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { WorkerPool } from '../../../src/primary/pool/worker-pool';
import { configFromJson, WORKER_CONFIG_ENV } from '../../../src/shared/config/config-handoff';
import { message, type WorkerToPrimary } from '../../../src/shared/process/ipc';
import { testConfig } from '../../support/ingest-server';
import { FakeLauncher } from '../../support/fake-launcher';
import { captureLogs } from '../../support/log-capture';

function startPool(t: TestContext, env: Record<string, string> = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
  const launcher = new FakeLauncher();
  const logs = captureLogs();
  const pool = new WorkerPool(testConfig({ WORKERS: '1', ...env }), launcher, logs.logger);
  let restarts = 0;
  pool.on('restart', () => restarts++);
  t.after(() => pool.close());
  pool.start();
  /** The newest worker dies at once (a crash loop) and the wait before its replacement is checked. */
  const crashAndExpectReplacementAfter = (delayMs: number): void => {
    const before = launcher.forked.length;
    launcher.newest().exit(1);
    if (delayMs > 0) {
      t.mock.timers.tick(delayMs - 1);
      assert.equal(launcher.forked.length, before, `not replaced before ${delayMs} ms`);
      t.mock.timers.tick(1);
    }
    assert.equal(launcher.forked.length, before + 1, `replaced after ${delayMs} ms`);
  };
  return { launcher, logs, pool, restarts: () => restarts, crashAndExpectReplacementAfter };
}

test('start forks WORKERS workers, each handed the validated configuration', (t) => {
  const { launcher } = startPool(t, { WORKERS: '3' });
  assert.equal(launcher.forked.length, 3);
  for (const worker of launcher.forked) assert.equal(configFromJson(worker.env[WORKER_CONFIG_ENV]).workers, 3);
});

test('the first unexpected exit is replaced at once, counted and logged', (t) => {
  const { launcher, logs, restarts } = startPool(t, { WORKERS: '2' });
  launcher.forked[0].exit(1);
  assert.equal(launcher.live().length, 2);
  assert.equal(restarts(), 1);
  const [entry] = logs.find('worker exited unexpectedly: replacing it');
  assert.equal(entry.exit_code, 1);
  assert.equal(entry.restart_in_ms, 0);
});

test('workers that keep dying wait longer each time: 100 ms, then doubling', (t) => {
  const { crashAndExpectReplacementAfter, logs } = startPool(t);
  for (const delay of [0, 100, 300, 700, 1500, 3100]) crashAndExpectReplacementAfter(delay);
  assert.deepEqual(
    logs.find('worker exited unexpectedly: replacing it').map((e) => e.restart_in_ms),
    [0, 100, 300, 700, 1500, 3100],
  );
});

test('the wait before a replacement never grows past 30 s', (t) => {
  const { crashAndExpectReplacementAfter } = startPool(t);
  for (const delay of [0, 100, 300, 700, 1500, 3100, 6300, 12_700, 25_500]) crashAndExpectReplacementAfter(delay);
  crashAndExpectReplacementAfter(29_900);
  crashAndExpectReplacementAfter(29_900);
});

test('a worker that lived 10 s ends the crash loop: its exit is replaced at once', (t) => {
  const { crashAndExpectReplacementAfter } = startPool(t);
  for (const delay of [0, 100, 300]) crashAndExpectReplacementAfter(delay);
  t.mock.timers.tick(10_000);
  crashAndExpectReplacementAfter(0);
  crashAndExpectReplacementAfter(100);
});

test('one pending replacement refills every slot that emptied while it waited', (t) => {
  const { launcher } = startPool(t, { WORKERS: '3' });
  launcher.forked[0].exit(1); // replaced at once
  launcher.forked[1].exit(1); // waits 100 ms
  launcher.forked[2].exit(1); // would wait 300 ms: the pending replacement covers it
  assert.equal(launcher.live().length, 1);
  t.mock.timers.tick(100);
  assert.equal(launcher.live().length, 3);
});

test('once the pool is closed for the shutdown, nothing is replaced, even a replacement already waiting', (t) => {
  const { launcher, pool, restarts } = startPool(t, { WORKERS: '2' });
  launcher.forked[0].exit(1);
  launcher.forked[1].exit(1); // its replacement waits 100 ms
  pool.close();
  t.mock.timers.tick(60_000);
  launcher.newest().exit(0);
  assert.equal(launcher.live().length, 0);
  assert.equal(restarts(), 2);
});

test('a worker retired for a rolling restart drains with 1012; its exit is not replaced nor a restart', async (t) => {
  const { launcher, pool, restarts } = startPool(t, { DRAIN_TIMEOUT_MS: '2000' });
  launcher.forked[0].ready();
  const [record] = pool.activeRecords();
  const retired = pool.retire(record);
  assert.deepEqual(launcher.forked[0].received('drain'), [
    message({ type: 'drain', closeCode: 1012, reason: 'service restart', drainTimeoutMs: 2000 }),
  ]);
  assert.deepEqual(pool.activeRecords(), []);
  launcher.forked[0].exit(0);
  await retired;
  assert.equal(launcher.forked.length, 1);
  assert.equal(restarts(), 0);
});

test('a draining worker still running DRAIN_TIMEOUT_MS + SHUTDOWN_TIMEOUT_MS + 5 s later is killed', async (t) => {
  const { launcher, pool, logs } = startPool(t, { DRAIN_TIMEOUT_MS: '2000', SHUTDOWN_TIMEOUT_MS: '3000' });
  const retired = pool.retire(pool.activeRecords()[0]);
  t.mock.timers.tick(2000 + 3000 + 5000 - 1);
  assert.equal(launcher.forked[0].killed, false);
  t.mock.timers.tick(1);
  assert.equal(launcher.forked[0].killed, true);
  await retired;
  assert.equal(logs.find('draining worker overran its deadline: killed').length, 1);
});

test('only start-up failures no restart can fix are fatal: port_in_use, config_invalid, topic_missing', (t) => {
  const { launcher, pool } = startPool(t);
  const fatal: string[] = [];
  pool.on('fatal', (code, text) => fatal.push(`${code}: ${text}`));
  const fail = (code: string): void =>
    launcher.forked[0].report(message<WorkerToPrimary>({ type: 'startup_failed', code, message: `${code} text` }));
  for (const code of ['backend_unreachable', 'port_in_use', 'worker_startup_failed', 'config_invalid', 'topic_missing'])
    fail(code);
  assert.deepEqual(fatal, [
    'port_in_use: port_in_use text',
    'config_invalid: config_invalid text',
    'topic_missing: topic_missing text',
  ]);
});

test('a worker that exits before it was ready marks start-up as failing until another becomes ready', (t) => {
  const { launcher, pool } = startPool(t);
  assert.equal(pool.startFailing, false);
  launcher.forked[0].exit(69);
  assert.equal(pool.startFailing, true);
  launcher.newest().ready();
  assert.equal(pool.startFailing, false);
});

test('a replacement for a rolling restart resolves once ready, and rejects if it exits first', async (t) => {
  const { launcher, pool } = startPool(t);
  const ready = pool.forkAndWaitReady();
  launcher.newest().ready();
  assert.equal((await ready).worker, launcher.forked[1]);
  const failed = pool.forkAndWaitReady();
  launcher.newest().exit(69);
  await assert.rejects(failed, /exited before it was ready/);
});

test('all ready resolves once WORKERS workers are ready, not before', async (t) => {
  const { launcher, pool } = startPool(t, { WORKERS: '2' });
  let done = false;
  const allReady = pool.whenAllReady().then(() => (done = true));
  launcher.forked[0].ready();
  await new Promise((resolve) => setImmediate(resolve)); // every pending promise callback has run
  assert.equal(done, false);
  launcher.forked[1].ready();
  await allReady;
  assert.deepEqual(pool.counts(), { expected: 2, alive: 2, ready: 2 });
});
