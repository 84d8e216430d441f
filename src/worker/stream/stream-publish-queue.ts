/**
 * One stream's records on their way to the backend, in order: at most one
 * publish in flight, so record k+1 is never confirmed before record k. A
 * transient failure is retried with capped exponential backoff and jitter, for
 * as long as the stream allows (CLOSED_STREAM_RETENTION_MS once its socket has
 * closed, the shutdown deadline); a permanent one is reported once and stops
 * the queue.
 *
 * The queue holds the data until the backend confirms it: its backlog (every
 * record, see record-size.ts) is what the session measures against
 * MAX_STREAM_BACKLOG_BYTES and adds to the worker's total. A queue can be held
 * (records accepted, none sent) while an older session of the same
 * interaction still publishes (interaction-order.ts).
 */
import type { Publisher } from '../../shared/publishing/publisher';
import type { IngestRecord } from '../../shared/publishing/records';
import { errorMessage, IngestError, PublishError } from '../../shared/errors';
import { recordBytes } from './record-size';

export interface PublishQueueEvents {
  /** The backend confirmed `record`. */
  onConfirmed(record: IngestRecord, durationMs: number): void;
  /**
   * A publish failed. 'retry': transient, tried again after a backoff;
   * 'dropped': the record itself is invalid (a bug), skipped, the queue goes on;
   * 'stopped': the backend refused it for good, the queue has stopped.
   */
  onFailed(error: IngestError, record: IngestRecord, outcome: FailureOutcome): void;
  /** The backlog fell (after a confirmation or a drop); lets the session resume reading. */
  onBacklogDrained(): void;
}

export type FailureOutcome = 'retry' | 'dropped' | 'stopped';

/** What abandon() gave up: counted as lost. */
export interface QueueLoss {
  readonly records: number;
  readonly bytes: number;
  /** Audio frames in the records given up. */
  readonly frames: number;
  /** The seq range of those frames; undefined when no audio was given up. */
  readonly seqStart: number | undefined;
  readonly seqEnd: number | undefined;
}

export const RETRY_BASE_MS = 100;
export const RETRY_MAX_MS = 5000;

interface Entry {
  readonly record: IngestRecord;
  readonly bytes: number;
}

export class StreamPublishQueue {
  private pending: Entry[] = [];
  private inFlight = false;
  private held = false;
  private attempts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private failed: IngestError | undefined;
  private idleWaiters: Array<() => void> = [];
  private settledWaiters: Array<() => void> = [];
  private bytes = 0;
  private closed = false;

  constructor(
    private readonly publisher: Publisher,
    private readonly events: PublishQueueEvents,
  ) {}

  /** Bytes of the records accepted but not yet confirmed (record-size.ts). */
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
    const bytes = recordBytes(record);
    // After a permanent failure the stream is already being closed for it; the
    // data stays accounted so that the loss is visible in the session's end log.
    this.bytes += bytes;
    this.pending.push({ record, bytes });
    if (this.failed || this.closed) return;
    if (!this.held && !this.inFlight && this.retryTimer === undefined) this.publishHead();
  }

  /** True between hold() and release(). */
  get isHeld(): boolean {
    return this.held;
  }

  /** Accepts records without sending any until release() (an older session of the interaction still publishes). */
  hold(): void {
    this.held = true;
  }

  /** Starts sending what hold() kept back. Idempotent. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    if (!this.failed && !this.closed && !this.inFlight && this.retryTimer === undefined) this.publishHead();
  }

  /** Resolves once every pushed record is confirmed, or the queue stopped or was abandoned. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Like whenIdle(), and also no publish under way: after abandon() the record
   * in flight may still be stored, so what must come after this stream's
   * records (a newer session of the interaction) waits for it to settle.
   */
  whenSettled(): Promise<void> {
    if (this.isIdle() && !this.inFlight) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /**
   * Stops publishing for good (retention expiry, shutdown deadline): every
   * record not yet confirmed, the one in flight included, is given up and
   * returned for the loss count; the backlog falls to zero. Resolves idle
   * waiters. Idempotent: a second call gives up nothing more.
   */
  abandon(): QueueLoss {
    if (this.closed) return lossOf([]);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const loss = lossOf(this.pending);
    this.pending = [];
    this.bytes = 0;
    this.notifyIdle();
    return loss;
  }

  private isIdle(): boolean {
    return this.pending.length === 0 || this.failed !== undefined || this.closed;
  }

  private publishHead(): void {
    const entry = this.pending[0];
    if (!entry || this.closed || this.held) return;
    this.inFlight = true;
    const startedAt = performance.now();
    this.publisher.publish(entry.record).then(
      () => this.confirmed(entry, performance.now() - startedAt),
      (err: unknown) => this.failedAttempt(entry, err),
    );
  }

  private confirmed(entry: Entry, durationMs: number): void {
    this.inFlight = false;
    // Abandoned meanwhile: the record was already counted as lost.
    if (this.closed) return this.notifyIdle();
    this.attempts = 0;
    this.pending.shift();
    this.bytes -= entry.bytes;
    this.events.onConfirmed(entry.record, durationMs);
    this.events.onBacklogDrained();
    this.next();
  }

  private failedAttempt(entry: Entry, err: unknown): void {
    this.inFlight = false;
    // Abandoned: the loss is already counted, and this failure says nothing about the backend.
    if (this.closed) return this.notifyIdle();
    const error = toIngestError(err);
    const record = entry.record;
    if (error.code === 'record_invalid') {
      this.pending.shift();
      this.bytes -= entry.bytes;
      this.events.onFailed(error, record, 'dropped');
      this.events.onBacklogDrained();
      return this.next();
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

  private next(): void {
    if (this.pending.length > 0 && !this.held) this.publishHead();
    else this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
    if (this.isIdle() && !this.inFlight) {
      const settled = this.settledWaiters;
      this.settledWaiters = [];
      for (const resolve of settled) resolve();
    }
  }
}

function lossOf(entries: readonly Entry[]): QueueLoss {
  let bytes = 0;
  let frames = 0;
  let seqStart: number | undefined;
  let seqEnd: number | undefined;
  for (const { record, bytes: size } of entries) {
    bytes += size;
    if (record.type !== 'audio') continue;
    frames += record.frames;
    seqStart = Math.min(seqStart ?? record.seq_start, record.seq_start);
    seqEnd = Math.max(seqEnd ?? record.seq_end, record.seq_end);
  }
  return { records: entries.length, bytes, frames, seqStart, seqEnd };
}

function toIngestError(err: unknown): IngestError {
  if (err instanceof IngestError) return err;
  const message = errorMessage(err);
  // An unknown failure is treated as transient: retrying is safe (consumers
  // deduplicate), giving up would lose acknowledged data.
  return new PublishError(message, true, { cause: err });
}
