/**
 * The pub/sub seam. One small interface, one adapter per backend
 * (in_memory, redis_streams, kafka), chosen by PUBSUB_ADAPTER.
 *
 * Ordering contract: the caller issues one publish per stream at a time (the
 * next only after the previous settled), so an adapter never has to reorder;
 * it may batch publishes of different streams freely.
 */
import { assertRecordRoutable, type IngestRecord } from './records';
import type { BackendHealthSnapshot } from './backend-health';
import { IngestError, PublishError } from '../errors';
import type { AdapterName } from '../config/adapter-names';

export type { AdapterName };

export interface Publisher {
  readonly adapter: AdapterName;

  /**
   * Connect to the backend. Resolves once a first connection is up; rejects with
   * IngestError('backend_unavailable') naming the backend when it cannot be reached
   * within the connect timeout.
   */
  start(): Promise<void>;

  /**
   * Publish one record. Resolves only after the backend has confirmed it.
   * Rejects with PublishError: `retryable` true for transient failures (connection
   * lost, broker busy), false when the backend refused the record for good.
   * Rejects with IngestError('record_invalid') for a record that must never be
   * published, and IngestError('publisher_closed') after close().
   */
  publish(record: IngestRecord): Promise<void>;

  /** The backend's state as last observed. Cheap: read on every /health. */
  health(): BackendHealthSnapshot;

  /** Subscribe to health changes (for aggregation by the primary). */
  onHealthChange(listener: (health: BackendHealthSnapshot) => void): () => void;

  /**
   * Wait for in-flight publishes, then disconnect. Idempotent: later calls return
   * the same promise. publish() after close() rejects with 'publisher_closed'.
   */
  close(): Promise<void>;
}

/**
 * The refusals every adapter makes before touching its backend, in the order
 * the contract states them: closed, unroutable record, not started. Returns
 * the error to reject with, or undefined to go on. Plain arguments, not an
 * object: this runs on every publish.
 */
/** The refusal of start() on a publisher that was closed: every adapter gives the same. */
export function startAfterClose(): IngestError {
  return new IngestError('publisher_closed', 'start() after close()');
}

export function publishRefusal(record: IngestRecord, closed: boolean, started: boolean): Error | undefined {
  if (closed) return new IngestError('publisher_closed', 'publish() after close()');
  try {
    assertRecordRoutable(record);
  } catch (err) {
    return err as Error;
  }
  if (!started) return new PublishError('publish() before start(): not connected', true);
  return undefined;
}
