/**
 * The coordinated shutdown's rules with fake workers and mocked timers: the
 * order (draining view, then the shutdown message, servers last), the kill
 * timer, and the exit code. Real processes: test/e2e/graceful-shutdown, crash-loop.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ClusterViewBroadcaster } from '../../../src/primary/pool/cluster-view-broadcaster';
import { ShutdownCoordinator } from '../../../src/primary/pool/shutdown-coordinator';
import { WorkerPool } from '../../../src/primary/pool/worker-pool';
import { EXIT } from '../../../src/shared/process/exit-codes';
import { message, type WorkerToPrimary } from '../../../src/shared/process/ipc';
import { testConfig } from '../../support/ingest-server';
import { FakeLauncher } from '../../support/fake-launcher';
import { captureLogs } from '../../support/log-capture';

/** WORKERS=2, the first `ready` of them ready, and a coordinator whose servers and process exit are recorded. */
function readyCluster(t: TestContext, env: Record<string, string> = {}, ready = 2) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
  const launcher = new FakeLauncher();
  const logs = captureLogs();
  const pool = new WorkerPool(testConfig({ WORKERS: '2', SHUTDOWN_TIMEOUT_MS: '1000', ...env }), launcher, logs.logger);
  const view = new ClusterViewBroadcaster(pool, logs.logger);
  const events: string[] = [];
  const server = { close: async () => void events.push('server closed') };
  const exit = (code: number): void => void events.push(`exit ${code}`);
  const shutdown = new ShutdownCoordinator({ pool, view, servers: [server], logger: logs.logger, exit });
  t.after(() => {
    view.close();
    pool.close();
  });
  pool.start();
  view.start();
  for (const worker of launcher.forked.slice(0, ready)) worker.ready();
  return { launcher, logs, pool, shutdown, events };
}

test('every worker is told to shut down with 1001; when all exit cleanly the servers close, then exit 0', async (t) => {
  const { launcher, logs, shutdown, events } = readyCluster(t);
  const done = shutdown.stop(EXIT.ok, 'SIGTERM');
  for (const worker of launcher.forked) {
    assert.deepEqual(worker.received('shutdown'), [
      message({ type: 'shutdown', closeCode: 1001, reason: 'server shutting down' }),
    ]);
  }
  assert.deepEqual(events, [], 'nothing closes while the workers flush');
  for (const worker of launcher.forked) worker.exit(EXIT.ok);
  await done;
  assert.deepEqual(events, ['server closed', `exit ${EXIT.ok}`]);
  assert.equal(logs.find('shutdown complete: everything buffered was published').length, 1);
});

test('workers hear that the cluster is draining before they are told to shut down', (t) => {
  const { launcher, shutdown } = readyCluster(t);
  void shutdown.stop(EXIT.ok, 'SIGTERM');
  const sent = launcher.forked[0].sent;
  const draining = sent.findIndex((m) => m.type === 'cluster_view' && m.view.draining && m.view.status === 'unhealthy');
  assert.ok(draining >= 0, 'a draining view was sent');
  assert.ok(draining < sent.findIndex((m) => m.type === 'shutdown'));
});

test('a second request is ignored: one shutdown message per worker, one exit', async (t) => {
  const { launcher, logs, shutdown, events } = readyCluster(t);
  const first = shutdown.stop(EXIT.ok, 'SIGTERM');
  const second = shutdown.stop(EXIT.ok, 'SIGINT');
  assert.deepEqual(
    logs.find('already shutting down: ignored').map((e) => e.signal),
    ['SIGINT'],
  );
  for (const worker of launcher.forked) worker.exit(EXIT.ok);
  await Promise.all([first, second]);
  assert.deepEqual(
    launcher.forked.map((w) => w.received('shutdown').length),
    [1, 1],
  );
  assert.deepEqual(events, ['server closed', `exit ${EXIT.ok}`]);
  assert.equal(logs.find('stopping').length, 1);
});

test('a worker still running SHUTDOWN_TIMEOUT_MS + 5 s after the request is killed, and the exit is 70', async (t) => {
  const { launcher, logs, shutdown, events } = readyCluster(t);
  const done = shutdown.stop(EXIT.ok, 'SIGTERM');
  launcher.forked[0].exit(EXIT.ok);
  t.mock.timers.tick(1000 + 5000 - 1);
  assert.equal(launcher.forked[1].killed, false);
  t.mock.timers.tick(1);
  assert.equal(launcher.forked[1].killed, true);
  assert.equal(launcher.forked[0].killed, false, 'a worker that already exited is left alone');
  await done;
  assert.deepEqual(events, ['server closed', `exit ${EXIT.dataLost}`]);
  const [report] = logs.find('shutdown incomplete: data was left unpublished');
  assert.equal(report.killed_workers, 1);
});

test('a worker that reports data left unpublished makes the exit 70, with the loss logged', async (t) => {
  const { launcher, logs, shutdown, events } = readyCluster(t);
  const done = shutdown.stop(EXIT.ok, 'SIGTERM');
  const lost = message<WorkerToPrimary>({ type: 'shutdown_complete', lostStreams: 1, lostBytes: 640 });
  launcher.forked[0].report(lost);
  launcher.forked[0].exit(EXIT.ok); // the report alone makes the shutdown incomplete, whatever the exit status
  launcher.forked[1].exit(EXIT.ok);
  await done;
  assert.deepEqual(events, ['server closed', `exit ${EXIT.dataLost}`]);
  const [report] = logs.find('shutdown incomplete: data was left unpublished');
  assert.deepEqual([report.lost_streams, report.lost_bytes, report.killed_workers], [1, 640, 0]);
});

test('a worker that exits non-zero during the shutdown makes the exit 70, even with no loss reported', async (t) => {
  const { launcher, shutdown, events } = readyCluster(t);
  const done = shutdown.stop(EXIT.ok, 'SIGTERM');
  launcher.forked[0].exit(EXIT.failed);
  launcher.forked[1].exit(EXIT.ok);
  await done;
  assert.deepEqual(events, ['server closed', `exit ${EXIT.dataLost}`]);
});

test('a worker still starting that fails at start-up (69) during the shutdown took no stream: exit 0', async (t) => {
  const { launcher, shutdown, events } = readyCluster(t, {}, 1);
  const done = shutdown.stop(EXIT.ok, 'SIGTERM');
  launcher.forked[0].exit(EXIT.ok);
  launcher.forked[1].exit(EXIT.startupFailed);
  await done;
  assert.deepEqual(events, ['server closed', `exit ${EXIT.ok}`]);
});

test('stopped while workers keep failing at start-up: exit 1, never 0', async (t) => {
  const { launcher, logs, shutdown, events } = readyCluster(t);
  launcher.forked[1].exit(EXIT.failed);
  launcher.newest().exit(EXIT.startupFailed); // the replacement never became ready
  t.mock.timers.tick(100);
  const done = shutdown.stop(EXIT.ok, 'SIGTERM');
  for (const worker of launcher.live()) worker.exit(worker.id === 1 ? EXIT.ok : EXIT.startupFailed);
  await done;
  assert.deepEqual(events, ['server closed', `exit ${EXIT.failed}`]);
  assert.equal(logs.find('stopped while workers were failing at start-up').length, 1);
});

test('a shutdown for a fatal start-up failure keeps its own exit code', async (t) => {
  const { launcher, logs, shutdown, events } = readyCluster(t);
  const done = shutdown.stop(EXIT.configInvalid, 'config_invalid');
  for (const worker of launcher.forked) worker.exit(EXIT.ok);
  await done;
  assert.deepEqual(events, ['server closed', `exit ${EXIT.configInvalid}`]);
  assert.equal(logs.find('shutdown complete: everything buffered was published').length, 0);
});
