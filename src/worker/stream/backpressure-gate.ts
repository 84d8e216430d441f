/**
 * Inbound back-pressure for one stream (protocol.md 2). Reading the socket
 * stops (TCP pushes back on the client) for either of two limits:
 * - `stream`: its own unpublished bytes reached MAX_STREAM_BACKLOG_BYTES;
 *   confirmations that bring them under the limit resume reading;
 * - `worker`: the worker's total reached MAX_WORKER_BACKLOG_BYTES
 *   (worker-backlog.ts); reading resumes when the total falls below it.
 * A pause that lasts BACKPRESSURE_TIMEOUT_MS, for whichever limit or both in
 * turn, gives up on the stream: the owner closes it with 1013.
 */
import type { StreamTransport } from './stream-transport';
import type { WorkerBacklog } from './worker-backlog';

export type PauseCause = 'stream' | 'worker';

export interface GateEvents {
  /** Paused for BACKPRESSURE_TIMEOUT_MS; `cause` is the limit that holds it now. */
  onStuck(cause: PauseCause): void;
  /** Reading resumed because the worker's total fell below its limit. */
  onWorkerRelief(): void;
}

/** The settings' names: a session passes the worker's configuration itself, shared by every stream. */
export interface GateLimits {
  /** MAX_STREAM_BACKLOG_BYTES */
  readonly maxStreamBacklogBytes: number;
  /** BACKPRESSURE_TIMEOUT_MS */
  readonly backpressureTimeoutMs: number;
}

export class BackpressureGate {
  private forStream = false;
  private forWorker = false;
  private transportPaused = false;
  private timer: NodeJS.Timeout | undefined;
  /** What the worker's backlog calls when it falls below its limit: made at the first wait, as few streams wait. */
  private relief: (() => void) | undefined;

  constructor(
    private readonly transport: StreamTransport,
    private readonly limits: GateLimits,
    private readonly worker: WorkerBacklog,
    private readonly events: GateEvents,
  ) {}

  get isPaused(): boolean {
    return this.forStream || this.forWorker;
  }

  /**
   * After a frame or a record: pauses reading at the stream's limit or while
   * the worker is full. Returns the limit that just paused it, if any.
   */
  check(unpublishedBytes: number): PauseCause | undefined {
    if (!this.forStream && unpublishedBytes >= this.limits.maxStreamBacklogBytes) {
      this.forStream = true;
      this.pause();
      return 'stream';
    }
    if (!this.forWorker && this.worker.full) {
      this.forWorker = true;
      this.relief ??= () => this.onWorkerRelief();
      this.worker.wait(this.relief);
      this.pause();
      return 'worker';
    }
    return undefined;
  }

  /** After a confirmation: lifts the stream's own limit below it. Returns true when reading just resumed. */
  relieve(unpublishedBytes: number): boolean {
    if (!this.forStream || unpublishedBytes >= this.limits.maxStreamBacklogBytes) return false;
    this.forStream = false;
    return this.resumeIfFree();
  }

  /** Stops the timer and reads again (the stream is ending: its close must be read). Idempotent. */
  release(): void {
    if (this.relief) this.worker.cancel(this.relief);
    this.forStream = false;
    this.forWorker = false;
    this.resumeIfFree();
  }

  private onWorkerRelief(): void {
    this.forWorker = false;
    if (this.resumeIfFree()) this.events.onWorkerRelief();
  }

  private pause(): void {
    if (this.transportPaused) return;
    this.transportPaused = true;
    this.transport.pause();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.isPaused) this.events.onStuck(this.forStream ? 'stream' : 'worker');
    }, this.limits.backpressureTimeoutMs);
  }

  private resumeIfFree(): boolean {
    if (this.isPaused || !this.transportPaused) return false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.transportPaused = false;
    this.transport.resume();
    return true;
  }
}
