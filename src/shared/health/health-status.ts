/**
 * The body of GET /health (protocol and issue contract):
 * {"status":"healthy"|"degraded"|"unhealthy","service":"ingest","pubsub":bool,"timestamp":ISO}
 * healthy: the backend works; degraded: publishes fail or the connection was
 * lost recently; unhealthy (503): the backend has been unreachable longer than
 * BACKEND_UNHEALTHY_AFTER_MS, or the worker is draining or closed.
 */
import type { BackendHealthSnapshot } from '../publishing/backend-health';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface HealthBody {
  readonly status: HealthStatus;
  readonly service: 'ingest';
  readonly pubsub: boolean;
  readonly timestamp: string;
  readonly [extra: string]: unknown;
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

export function healthBody(
  backend: BackendHealthSnapshot,
  unhealthyAfterMs: number,
  draining: boolean,
  now = Date.now(),
): HealthBody {
  const status = draining ? 'unhealthy' : backendStatus(backend, unhealthyAfterMs, now);
  return {
    status,
    service: 'ingest',
    pubsub: backend.state === 'up' || backend.state === 'degraded',
    timestamp: new Date(now).toISOString(),
  };
}
