/**
 * Inbound back-pressure for one stream (protocol.md 2): when its unpublished
 * bytes reach MAX_STREAM_BACKLOG_BYTES the socket stops being read (TCP
 * pushes back on the client), and if that lasts BACKPRESSURE_TIMEOUT_MS the
 * stream is given up on (the owner closes it with 1013). Confirmations that
 * bring the backlog under the limit resume reading.
 */
import type { StreamTransport } from './stream-transport';

export class BackpressureGate {
  private paused = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: StreamTransport,
    private readonly limitBytes: number,
    private readonly timeoutMs: number,
    private readonly onStuck: () => void,
  ) {}

  get isPaused(): boolean {
    return this.paused;
  }

  /** After a frame: pauses reading at the limit. Returns true when it just paused. */
  check(unpublishedBytes: number): boolean {
    if (this.paused || unpublishedBytes < this.limitBytes) return false;
    this.paused = true;
    this.transport.pause();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.paused) this.onStuck();
    }, this.timeoutMs);
    return true;
  }

  /** After a confirmation: resumes reading below the limit. Returns true when it just resumed. */
  relieve(unpublishedBytes: number): boolean {
    if (!this.paused || unpublishedBytes >= this.limitBytes) return false;
    this.release();
    return true;
  }

  /** Stops the timer and reads again (the stream is ending: its close must be read). Idempotent. */
  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.paused) return;
    this.paused = false;
    this.transport.resume();
  }
}
