/**
 * One stream's records on their way to the backend, in order: at most one
 * publish in flight, so record k+1 is never confirmed before record k. A
 * transient failure is retried with capped exponential backoff and jitter, for
 * as long as the stream (or the shutdown deadline) allows; a permanent one is
 * reported once and stops the queue.
 *
 * The queue holds the data until the backend confirms it: its backlog is what
 * the session measures against MAX_STREAM_BACKLOG_BYTES.
 */
import type { Publisher } from '../../shared/publishing/publisher';
import type { IngestRecord } from '../../shared/publishing/records';
import { errorMessage, IngestError, PublishError } from '../../shared/errors';

export interface PublishQueueEvents {
  /** The backend confirmed `record`. */
  onConfirmed(record: IngestRecord, durationMs: number): void;
  /**
   * A publish failed. 'retry': transient, tried again after a backoff;
   * 'dropped': the record itself is invalid (a bug), skipped, the queue goes on;
   * 'stopped': the backend refused it for good, the queue has stopped.
   */
  onFailed(error: IngestError, record: IngestRecord, outcome: FailureOutcome): void;
  /** The backlog fell (after a confirmation); lets the session resume reading. */
  onBacklogDrained(): void;
}

export type FailureOutcome = 'retry' | 'dropped' | 'stopped';

export const RETRY_BASE_MS = 100;
export const RETRY_MAX_MS = 5000;

function recordBytes(record: IngestRecord): number {
  return record.type === 'audio' ? record.payload.length : 0;
}

export class StreamPublishQueue {
  private readonly pending: IngestRecord[] = [];
  private inFlight = false;
  private attempts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private failed: IngestError | undefined;
  private idleWaiters: Array<() => void> = [];
  private bytes = 0;
  private closed = false;

  constructor(
    private readonly publisher: Publisher,
    private readonly events: PublishQueueEvents,
  ) {}

  /** Bytes of payload accepted but not yet confirmed. */
  get backlogBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.pending.length;
  }

  /** The permanent failure that stopped the queue, if any. */
  get failure(): IngestError | undefined {
    return this.failed;
  }

  push(record: IngestRecord): void {
    if (this.failed || this.closed) {
      // The stream is already being closed for this failure; keep the data
      // accounted so the loss is visible in the session's end log.
      this.bytes += recordBytes(record);
      this.pending.push(record);
      return;
    }
    this.bytes += recordBytes(record);
    this.pending.push(record);
    if (!this.inFlight && this.retryTimer === undefined) this.publishHead();
  }

  /** Resolves once every pushed record is confirmed, or the queue stopped. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying (the records left are lost); resolves waiters. Idempotent. */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.pending.length === 0 || this.failed !== undefined || this.closed;
  }

  private publishHead(): void {
    const record = this.pending[0];
    if (!record || this.closed) return;
    this.inFlight = true;
    const startedAt = performance.now();
    this.publisher.publish(record).then(
      () => this.confirmed(record, performance.now() - startedAt),
      (err: unknown) => this.failedAttempt(record, err),
    );
  }

  private confirmed(record: IngestRecord, durationMs: number): void {
    this.inFlight = false;
    this.attempts = 0;
    this.pending.shift();
    this.bytes -= recordBytes(record);
    this.events.onConfirmed(record, durationMs);
    if (record.type === 'audio') this.events.onBacklogDrained();
    if (this.pending.length > 0) this.publishHead();
    else this.notifyIdle();
  }

  private failedAttempt(record: IngestRecord, err: unknown): void {
    this.inFlight = false;
    // Abandoned at the shutdown deadline: the loss is already counted there, and
    // this failure says nothing about the backend.
    if (this.closed) return this.notifyIdle();
    const error = toIngestError(err);
    if (error.code === 'record_invalid') {
      this.pending.shift();
      this.bytes -= recordBytes(record);
      this.events.onFailed(error, record, 'dropped');
      if (this.pending.length > 0) this.publishHead();
      else this.notifyIdle();
      return;
    }
    if (!(error instanceof PublishError && error.retryable)) {
      // Stopped before the owner hears of it: the owner ends its stream from
      // this callback, and the stream_ended it pushes must not restart publishing.
      this.failed = error;
      this.events.onFailed(error, record, 'stopped');
      this.notifyIdle();
      return;
    }
    this.events.onFailed(error, record, 'retry');
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts = Math.min(this.attempts + 1, 16);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.publishHead();
    }, delay);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function toIngestError(err: unknown): IngestError {
  if (err instanceof IngestError) return err;
  const message = errorMessage(err);
  // An unknown failure is treated as transient: retrying is safe (consumers
  // deduplicate), giving up would lose acknowledged data.
  return new PublishError(message, true, { cause: err });
}
