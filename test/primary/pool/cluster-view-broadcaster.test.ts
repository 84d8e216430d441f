/**
 * What the workers are told about the cluster, and when: on a change only,
 * and on a timer for what changes with time alone (a backend down too long).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ClusterViewBroadcaster } from '../../../src/primary/pool/cluster-view-broadcaster';
import { WorkerPool } from '../../../src/primary/pool/worker-pool';
import { message, type WorkerToPrimary } from '../../../src/shared/process/ipc';
import { testConfig } from '../../support/ingest-server';
import { FakeLauncher } from '../../support/fake-launcher';
import { captureLogs } from '../../support/log-capture';

function broadcasting(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
  const launcher = new FakeLauncher();
  const logs = captureLogs();
  const config = testConfig({ WORKERS: '2', BACKEND_UNHEALTHY_AFTER_MS: '5000' });
  const pool = new WorkerPool(config, launcher, logs.logger);
  const view = new ClusterViewBroadcaster(pool, logs.logger);
  t.after(() => {
    view.close();
    pool.close();
  });
  pool.start();
  view.start();
  for (const worker of launcher.forked) {
    worker.ready();
    worker.report(message<WorkerToPrimary>({ type: 'backend_health', health: { state: 'up', since: 0, lastOkAt: 0 } }));
  }
  return { launcher, logs, view };
}

test('every worker learns the cluster view when it changes, and only then', (t) => {
  const { launcher, view } = broadcasting(t);
  assert.deepEqual(view.current(), {
    status: 'healthy',
    pubsub: true,
    workers: { alive: 2, expected: 2 },
    draining: false,
  });
  const sentBefore = launcher.forked[0].received('cluster_view').length;
  t.mock.timers.tick(3000);
  view.refresh();
  assert.equal(launcher.forked[0].received('cluster_view').length, sentBefore, 'an unchanged view is not re-sent');
  launcher.forked[1].exit(1);
  const [last] = launcher.forked[0].received('cluster_view').slice(-1);
  assert.deepEqual(last.view.workers, { alive: 1, expected: 2 });
  assert.equal(last.view.status, 'degraded');
});

test('a backend down longer than BACKEND_UNHEALTHY_AFTER_MS turns the view unhealthy on the next tick', (t) => {
  const { launcher, logs, view } = broadcasting(t);
  for (const worker of launcher.forked)
    worker.report(
      message<WorkerToPrimary>({ type: 'backend_health', health: { state: 'down', since: 0, lastOkAt: 0 } }),
    );
  assert.equal(view.current().status, 'degraded');
  t.mock.timers.tick(5000);
  assert.equal(view.current().status, 'unhealthy');
  assert.equal(launcher.forked[0].received('cluster_view').slice(-1)[0].view.status, 'unhealthy');
  assert.equal(logs.find('cluster health changed').slice(-1)[0].status, 'unhealthy');
});

test('after close the view is no longer re-evaluated or sent', (t) => {
  const { launcher, view } = broadcasting(t);
  view.close();
  view.close();
  const sent = launcher.forked[0].sent.length;
  launcher.forked[1].exit(1);
  t.mock.timers.tick(10_000);
  assert.equal(launcher.forked[0].sent.length, sent);
});
