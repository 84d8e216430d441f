/**
 * Whether a stream's peer is still there, by two watches:
 * - ping: the worker's heartbeat pings every PING_INTERVAL_MS, and a peer that
 *   has not ponged since the previous ping is gone;
 * - idle: a stream with neither frame nor keepalive for IDLE_TIMEOUT_MS is over.
 * While reading is paused for back-pressure the peer's pongs and frames sit
 * unread in the socket, so silence proves nothing: both watches count the peer
 * as alive, and BACKPRESSURE_TIMEOUT_MS (1013) is what bounds that state.
 */

/** Whether the socket is being read (the back-pressure gate). */
export interface ReadState {
  readonly isPaused: boolean;
}

export class StreamLiveness {
  private answered = true;
  private lastActivityAt = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly reading: ReadState,
    /** The stream was idle for `idleMs` (at least IDLE_TIMEOUT_MS); the watch has stopped. */
    private readonly onIdle: (idleMs: number) => void,
  ) {}

  /** Activity from the peer (a frame, a keepalive); the hot path passes the time it has already read. */
  touch(now: number): void {
    this.lastActivityAt = now;
  }

  pong(): void {
    this.answered = true;
  }

  /** One heartbeat: pings the peer, or returns false when it never answered the previous ping. */
  heartbeat(ping: () => void): boolean {
    if (this.reading.isPaused) {
      // After the pause the peer gets a full interval to answer again.
      this.answered = true;
      return true;
    }
    if (!this.answered) return false;
    this.answered = false;
    ping();
    return true;
  }

  /** Starts the idle watch (the stream has started). */
  watchIdle(): void {
    this.stop();
    this.lastActivityAt = Date.now();
    this.idleTimer = setTimeout(this.onIdleCheck, this.idleTimeoutMs);
  }

  /** Stops the idle watch. Idempotent. */
  stop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private readonly onIdleCheck = (): void => {
    this.idleTimer = undefined;
    if (this.reading.isPaused) this.lastActivityAt = Date.now();
    const idleFor = Date.now() - this.lastActivityAt;
    if (idleFor >= this.idleTimeoutMs) return this.onIdle(idleFor);
    // Activity since the timer was armed: sleep until the idle limit counted from the last of it.
    this.idleTimer = setTimeout(this.onIdleCheck, this.idleTimeoutMs - idleFor);
  };
}
