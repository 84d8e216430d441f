/**
 * The streams a worker holds, each with its socket, until they finish (a
 * closed stream stays until its backlog is published or given up): the
 * heartbeat that pings them, the drain that ends them all and the shutdown
 * deadline's abandon. Telephony sessions are held but never pinged: the
 * one-way applets must receive nothing. Their backlog adds up in
 * WorkerBacklog, not here: a sum over sessions is no gauge for a hot path.
 */
import type { WebSocket } from 'ws';
import type { StreamSession } from '../stream/stream-session';
import { EmptyWaiters } from './empty-waiters';

export class SessionRegistry {
  private readonly sessions = new Map<StreamSession, WebSocket>();
  private readonly unpinged = new WeakSet<StreamSession>();
  private readonly emptyWaiters = new EmptyWaiters();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly pingIntervalMs: number) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Starts the heartbeat: every pinged session is pinged each PING_INTERVAL_MS. */
  start(): void {
    this.heartbeat ??= setInterval(() => this.pingAll(), this.pingIntervalMs);
  }

  /** Stops the heartbeat. Idempotent; the sessions end through shutdownAll() or by themselves. */
  close(): void {
    clearInterval(this.heartbeat);
  }

  add(session: StreamSession, ws: WebSocket, options: { pinged: boolean }): void {
    this.sessions.set(session, ws);
    if (!options.pinged) this.unpinged.add(session);
  }

  /** The session has finished (SessionDeps.onFinished): it no longer holds the drain. */
  remove(session: StreamSession): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0) this.emptyWaiters.release();
  }

  whenEmpty(): Promise<void> {
    return this.emptyWaiters.wait(this.sessions.size === 0);
  }

  /** Ends every stream with `code` once what it buffered is published. */
  async shutdownAll(code: number, reason: string): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((session) => session.shutdown(code, reason)));
  }

  /** Stops retries for every session and drops its socket (shutdown deadline); returns what was given up. */
  abandon(): { streams: number; bytes: number } {
    let bytes = 0;
    let streams = 0;
    for (const session of this.sessions.keys()) {
      const lost = session.abandon();
      bytes += lost;
      if (lost > 0) streams++; // a session only waiting for its peer's close lost nothing
    }
    for (const ws of this.sessions.values()) ws.terminate();
    return { streams, bytes };
  }

  private pingAll(): void {
    for (const [session, ws] of this.sessions) {
      if (ws.readyState === ws.OPEN && !this.unpinged.has(session)) session.heartbeat((payload) => ws.ping(payload));
    }
  }
}
