/**
 * The body of GET /health (protocol and issue contract), on a worker's PORT and
 * on the primary's METRICS_PORT alike:
 * {"status":"healthy"|"degraded"|"unhealthy","service":"ingest","pubsub":bool,"timestamp":ISO,"workers"?:{…}}
 * healthy: the backend works; degraded: publishes fail or the connection was
 * lost recently, or (on a worker's PORT) its JWT_JWKS_URL key set is older than
 * JWT_JWKS_CACHE_MAX_AGE_MS; unhealthy (503): the backend has been unreachable
 * longer than BACKEND_UNHEALTHY_AFTER_MS, or the worker is draining or closed.
 */
import type { BackendHealthSnapshot } from '../publishing/backend-health';

export const HEALTH_STATUSES = ['healthy', 'degraded', 'unhealthy'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** Workers ready vs expected: known only where the primary's view of the cluster is. */
export interface WorkerCounts {
  readonly alive: number;
  readonly expected: number;
}

/** What a /health body says about the service, before the fixed fields are added. */
export interface HealthState {
  readonly status: HealthStatus;
  readonly pubsub: boolean;
  readonly workers?: WorkerCounts;
}

export interface HealthBody extends HealthState {
  readonly service: 'ingest';
  readonly timestamp: string;
}

const SEVERITY: Readonly<Record<HealthStatus, number>> = { healthy: 0, degraded: 1, unhealthy: 2 };

/** The worse of two statuses. */
export function worseStatus(a: HealthStatus, b: HealthStatus): HealthStatus {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

/** The one place a /health body is put together, so the worker's and the primary's never drift apart. */
export function toHealthBody(state: HealthState, now = Date.now()): HealthBody {
  return {
    status: state.status,
    service: 'ingest',
    pubsub: state.pubsub,
    timestamp: new Date(now).toISOString(),
    ...(state.workers ? { workers: state.workers } : {}),
  };
}

/** Load balancers act on the status code alone: only unhealthy takes the instance out. */
export function healthHttpStatus(body: HealthBody): 200 | 503 {
  return body.status === 'unhealthy' ? 503 : 200;
}

export function backendStatus(backend: BackendHealthSnapshot, unhealthyAfterMs: number, now: number): HealthStatus {
  switch (backend.state) {
    case 'up':
      return 'healthy';
    case 'degraded':
      return 'degraded';
    case 'connecting':
    case 'down': {
      const lastOk = backend.lastOkAt || backend.since;
      return now - lastOk >= unhealthyAfterMs ? 'unhealthy' : 'degraded';
    }
    case 'closed':
      return 'unhealthy';
  }
}

/** A worker's own /health body, from its backend alone. */
export function healthBody(
  backend: BackendHealthSnapshot,
  unhealthyAfterMs: number,
  draining: boolean,
  now = Date.now(),
): HealthBody {
  const status = draining ? 'unhealthy' : backendStatus(backend, unhealthyAfterMs, now);
  return toHealthBody({ status, pubsub: backend.state === 'up' || backend.state === 'degraded' }, now);
}
