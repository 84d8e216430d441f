/**
 * Whether a stream's peer is still there, by two watches:
 * - ping: the worker's heartbeat pings every PING_INTERVAL_MS with a random
 *   payload, and a peer that has not answered that ping with the same payload
 *   by the next heartbeat is gone. A pong with any other payload (unsolicited,
 *   or answering an older ping) proves nothing: a client that sends pongs but
 *   never reads would otherwise pass for alive while its replies pile up;
 * - idle: a stream with neither frame nor keepalive for IDLE_TIMEOUT_MS is over.
 * While reading is paused for back-pressure the peer's pongs and frames sit
 * unread in the socket, so silence proves nothing: both watches count the peer
 * as alive, and BACKPRESSURE_TIMEOUT_MS (1013) is what bounds that state.
 */
import { randomBytes } from 'node:crypto';

/** Bytes of random ping payload: enough that a client cannot guess the next one. */
export const PING_PAYLOAD_BYTES = 8;

/** Whether the socket is being read (the back-pressure gate). */
export interface ReadState {
  readonly isPaused: boolean;
}

/** Told when the stream was idle for `idleMs` (at least IDLE_TIMEOUT_MS); the watch has stopped. */
export interface IdleListener {
  onIdle(idleMs: number): void;
}

export class StreamLiveness {
  /** The payload of the ping not answered yet; undefined when the last ping was answered. */
  private awaited: Buffer | undefined;
  private lastActivityAt = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly reading: ReadState,
    private readonly listener: IdleListener,
  ) {}

  /** Activity from the peer (a frame, a keepalive); the hot path passes the time it has already read. */
  touch(now: number): void {
    this.lastActivityAt = now;
  }

  /** A pong from the peer: true when it answers the last ping, false when it is ignored. */
  pong(payload: Buffer): boolean {
    if (this.awaited === undefined || !payload.equals(this.awaited)) return false;
    this.awaited = undefined;
    return true;
  }

  /** One heartbeat: pings the peer, or returns false when it never answered the previous ping. */
  heartbeat(ping: (payload: Buffer) => void): boolean {
    if (this.reading.isPaused) {
      // After the pause the peer gets a full interval to answer again.
      this.awaited = undefined;
      return true;
    }
    if (this.awaited !== undefined) return false;
    this.awaited = randomBytes(PING_PAYLOAD_BYTES);
    ping(this.awaited);
    return true;
  }

  /** Starts the idle watch (the stream has started). */
  watchIdle(): void {
    this.stop();
    this.lastActivityAt = Date.now();
    this.idleTimer = setTimeout(onIdleCheck, this.idleTimeoutMs, this);
  }

  /** Stops the idle watch. Idempotent. */
  stop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** @internal The idle timer fired (onIdleCheck). */
  idleCheck(): void {
    this.idleTimer = undefined;
    if (this.reading.isPaused) this.lastActivityAt = Date.now();
    const idleFor = Date.now() - this.lastActivityAt;
    if (idleFor >= this.idleTimeoutMs) return this.listener.onIdle(idleFor);
    // Activity since the timer was armed: sleep until the idle limit counted from the last of it.
    this.idleTimer = setTimeout(onIdleCheck, this.idleTimeoutMs - idleFor, this);
  }
}

/** One callback for every stream's idle timer (the timer passes its watch): no closure per stream. */
function onIdleCheck(liveness: StreamLiveness): void {
  liveness.idleCheck();
}
