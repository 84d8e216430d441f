/**
 * The cluster's health as the primary sees it: workers ready vs expected, each
 * worker's backend state, and whether the service is draining. The primary
 * serves it on METRICS_PORT and shares it with every worker, so /health on
 * PORT reflects the cluster whichever worker answers (both bodies come from
 * shared/health's toHealthBody).
 *
 *   unhealthy: shutting down, no worker ready, or no worker can publish
 *   degraded:  fewer workers ready than expected, or a worker's backend failing
 *   healthy:   otherwise
 */
import type { BackendHealthSnapshot } from '../../shared/publishing/backend-health';
import type { ClusterView } from '../../shared/process/ipc';
import { backendStatus, type HealthStatus } from '../../shared/health/health-status';

export interface WorkerHealthInput {
  readonly ready: boolean;
  readonly backend: BackendHealthSnapshot | undefined;
}

export function clusterView(
  workers: readonly WorkerHealthInput[],
  expected: number,
  draining: boolean,
  unhealthyAfterMs: number,
  now = Date.now(),
): ClusterView {
  const ready = workers.filter((w) => w.ready);
  const statuses = ready.map((w) => (w.backend ? backendStatus(w.backend, unhealthyAfterMs, now) : 'degraded'));
  const pubsub = ready.some((w) => w.backend?.state === 'up' || w.backend?.state === 'degraded');
  let status: HealthStatus = 'healthy';
  if (draining || ready.length === 0 || statuses.every((s) => s === 'unhealthy')) status = 'unhealthy';
  else if (ready.length < expected || statuses.some((s) => s !== 'healthy')) status = 'degraded';
  return { status, pubsub, workers: { alive: ready.length, expected }, draining };
}

export function sameView(a: ClusterView | undefined, b: ClusterView): boolean {
  return (
    a !== undefined &&
    a.status === b.status &&
    a.pubsub === b.pubsub &&
    a.draining === b.draining &&
    a.workers.alive === b.workers.alive &&
    a.workers.expected === b.workers.expected
  );
}
