/**
 * Tracks one backend connection's state for /health and /ready. Adapters feed it
 * facts (connected, a publish failed, a publish succeeded, connection lost);
 * it derives the state and notifies listeners only on change.
 *
 *   connecting --up--> up --failure--> degraded --success--> up
 *                      up/degraded --lost--> down --up--> up
 */

export type BackendState = 'connecting' | 'up' | 'degraded' | 'down' | 'closed';

export interface BackendHealthSnapshot {
  readonly state: BackendState;
  /** Epoch ms at which the backend entered this state. */
  readonly since: number;
  /** Epoch ms of the last time the backend was known to work (0: never). */
  readonly lastOkAt: number;
  readonly lastError?: string;
}

type Listener = (snapshot: BackendHealthSnapshot) => void;

/** The part of a pino logger this needs (kept structural so shared code needs no pino import). */
interface LogSink {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export class BackendHealth {
  private snapshot: BackendHealthSnapshot = { state: 'connecting', since: Date.now(), lastOkAt: 0 };
  private readonly listeners = new Set<Listener>();

  current(): BackendHealthSnapshot {
    return this.snapshot;
  }

  /** A connection is up, or a publish was confirmed. Cheap when already up. */
  markUp(): void {
    if (this.snapshot.state === 'up') return;
    if (this.snapshot.state === 'closed') return;
    const now = Date.now();
    this.set({ state: 'up', since: now, lastOkAt: now });
  }

  /** A publish failed but the connection may still be there. */
  markFailing(error: string): void {
    if (this.snapshot.state === 'down' || this.snapshot.state === 'closed' || this.snapshot.state === 'connecting') {
      if (this.snapshot.lastError !== error && this.snapshot.state !== 'closed') {
        this.snapshot = { ...this.snapshot, lastError: error };
      }
      return;
    }
    this.set({ state: 'degraded', since: this.stateSince('degraded'), lastOkAt: this.okAt(), lastError: error });
  }

  /** The connection is lost. */
  markDown(error: string): void {
    if (this.snapshot.state === 'closed') return;
    if (this.snapshot.state === 'down' || this.snapshot.state === 'connecting') {
      this.snapshot = { ...this.snapshot, lastError: error };
      return;
    }
    this.set({ state: 'down', since: Date.now(), lastOkAt: this.okAt(), lastError: error });
  }

  markClosed(): void {
    if (this.snapshot.state === 'closed') return;
    this.set({ state: 'closed', since: Date.now(), lastOkAt: this.okAt() });
  }

  /**
   * Logs every state change once, at the adapter that owns the connection:
   * info when it comes up or closes, warn when it degrades or goes down.
   */
  logChanges(logger: LogSink, what: string, fields: Readonly<Record<string, unknown>>): void {
    this.onChange((s) => {
      const entry = { ...fields, state: s.state, err: s.lastError };
      if (s.state === 'up' || s.state === 'closed') logger.info(entry, `${what} ${s.state}`);
      else logger.warn(entry, `${what} ${s.state}`);
    });
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private okAt(): number {
    return this.snapshot.state === 'up' ? Date.now() : this.snapshot.lastOkAt;
  }

  private stateSince(state: BackendState): number {
    return this.snapshot.state === state ? this.snapshot.since : Date.now();
  }

  private set(next: BackendHealthSnapshot): void {
    const changed = next.state !== this.snapshot.state;
    this.snapshot = next;
    if (!changed) return;
    for (const listener of this.listeners) listener(next);
  }
}
