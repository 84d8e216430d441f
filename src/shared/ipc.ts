/**
 * The typed messages between the primary and its workers over the cluster IPC
 * channel. Every message carries `ingest: 1` so that anything else on the
 * channel (prom-client's aggregator, Node's own) is ignored by these guards.
 */
import type { BackendHealthSnapshot } from './backend-health';

export type PrimaryToWorker =
  | { ingest: 1; type: 'shutdown'; closeCode: number; reason: string };

export type WorkerToPrimary =
  | { ingest: 1; type: 'ready'; port: number }
  | { ingest: 1; type: 'startup_failed'; code: string; message: string }
  | { ingest: 1; type: 'backend_health'; health: BackendHealthSnapshot }
  | { ingest: 1; type: 'shutdown_complete'; lostStreams: number; lostBytes: number };

function isIngestMessage(value: unknown): value is { ingest: 1; type: string } {
  return typeof value === 'object' && value !== null && (value as { ingest?: unknown }).ingest === 1 && typeof (value as { type?: unknown }).type === 'string';
}

export function isPrimaryToWorker(value: unknown): value is PrimaryToWorker {
  return isIngestMessage(value) && value.type === 'shutdown';
}

export function isWorkerToPrimary(value: unknown): value is WorkerToPrimary {
  return isIngestMessage(value) && ['ready', 'startup_failed', 'backend_health', 'shutdown_complete'].includes(value.type);
}

/** Distributes Omit over the union so each message keeps its own fields. */
type WithoutTag<T> = T extends unknown ? Omit<T, 'ingest'> : never;

export function message<T extends PrimaryToWorker | WorkerToPrimary>(body: WithoutTag<T>): T {
  return { ingest: 1, ...body } as unknown as T;
}
