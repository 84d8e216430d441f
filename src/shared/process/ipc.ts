/**
 * The typed messages between the primary and its workers over the cluster IPC
 * channel. Every message carries `ingest: 1` so that anything else on the
 * channel (Node's own internal messages) is ignored by these guards.
 * Requests that expect an answer (metrics, a tenant's stream slot) carry a
 * request id; the asking side times them out and ignores late or duplicate replies.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { BackendHealthSnapshot } from '../publishing/backend-health';
import type { HealthState, WorkerCounts } from '../health/health-status';

export type WorkerMetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

/** What the primary tells every worker about the cluster, for their /health (the body's own fields). */
export interface ClusterView extends HealthState {
  readonly workers: WorkerCounts;
  readonly draining: boolean;
}

export type PrimaryToWorker =
  | { ingest: 1; type: 'shutdown'; closeCode: number; reason: string }
  | { ingest: 1; type: 'drain'; closeCode: number; reason: string; drainTimeoutMs: number }
  | { ingest: 1; type: 'metrics_request'; requestId: number }
  | { ingest: 1; type: 'cluster_view'; view: ClusterView }
  | { ingest: 1; type: 'lease_reply'; requestId: number; granted: boolean };

export type WorkerToPrimary =
  | { ingest: 1; type: 'ready'; port: number }
  | { ingest: 1; type: 'startup_failed'; code: string; message: string }
  | { ingest: 1; type: 'backend_health'; health: BackendHealthSnapshot }
  | { ingest: 1; type: 'metrics_response'; requestId: number; metrics: WorkerMetricsJson }
  | { ingest: 1; type: 'shutdown_complete'; lostStreams: number; lostBytes: number }
  /** MAX_STREAMS_PER_TENANT counted by the primary (no Redis for the limits): a slot for `leaseId`, within `limit`. */
  | { ingest: 1; type: 'lease_acquire'; requestId: number; tenant: string; leaseId: string; limit: number }
  | { ingest: 1; type: 'lease_release'; tenant: string; leaseIds: string[] }
  /** The worker admitted a stream without the primary's answer (timed out, fail open): count `leaseId` anyway. */
  | { ingest: 1; type: 'lease_held'; tenant: string; leaseId: string };

const PRIMARY_TYPES: ReadonlySet<string> = new Set([
  'shutdown',
  'drain',
  'metrics_request',
  'cluster_view',
  'lease_reply',
]);
const WORKER_TYPES: ReadonlySet<string> = new Set([
  'ready',
  'startup_failed',
  'backend_health',
  'metrics_response',
  'shutdown_complete',
  'lease_acquire',
  'lease_release',
  'lease_held',
]);

function isIngestMessage(value: unknown): value is { ingest: 1; type: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { ingest?: unknown }).ingest === 1 &&
    typeof (value as { type?: unknown }).type === 'string'
  );
}

export function isPrimaryToWorker(value: unknown): value is PrimaryToWorker {
  return isIngestMessage(value) && PRIMARY_TYPES.has(value.type);
}

export function isWorkerToPrimary(value: unknown): value is WorkerToPrimary {
  return isIngestMessage(value) && WORKER_TYPES.has(value.type);
}

/** Distributes Omit over the union so each message keeps its own fields. */
type WithoutTag<T> = T extends unknown ? Omit<T, 'ingest'> : never;

export function message<T extends PrimaryToWorker | WorkerToPrimary>(body: WithoutTag<T>): T {
  return { ingest: 1, ...body } as unknown as T;
}
