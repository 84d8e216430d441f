/**
 * The worker's unpublished bytes, all sessions together (MAX_WORKER_BACKLOG_BYTES):
 * live streams and closed ones still publishing alike. One shared counter,
 * moved by each session's deltas (a subtraction and an addition per frame),
 * never a sum over sessions.
 *
 * At or above the limit the worker is full: the upgrade router refuses new
 * streams (503 `worker_backlog_full`) and a live stream that reads a frame
 * pauses its socket (backpressure-gate.ts) and waits here. Once the total is
 * below the limit again every waiting stream resumes; one that fills the
 * worker again pauses again on its next frame.
 */
export class WorkerBacklog {
  private total = 0;
  private readonly waiting = new Set<() => void>();

  constructor(readonly limitBytes: number) {}

  /** Unpublished bytes in this worker now (the ingest_backlog_bytes gauge). */
  get bytes(): number {
    return this.total;
  }

  get full(): boolean {
    return this.total >= this.limitBytes;
  }

  /** Streams paused now because the worker is full. */
  get waitingStreams(): number {
    return this.waiting.size;
  }

  /** A session's unpublished bytes changed by `delta`. */
  add(delta: number): void {
    this.total += delta;
    if (delta < 0 && this.waiting.size > 0 && this.total < this.limitBytes) this.resumeAll();
  }

  /** A stream paused for the worker: `resume` is called once, when the total falls below the limit. */
  wait(resume: () => void): void {
    this.waiting.add(resume);
  }

  /** The stream stopped waiting by itself (it ended). Idempotent. */
  cancel(resume: () => void): void {
    this.waiting.delete(resume);
  }

  private resumeAll(): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const resume of waiting) resume();
  }
}
