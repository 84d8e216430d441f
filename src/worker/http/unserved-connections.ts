/**
 * The connections a worker holds that have not been served yet (no request or
 * upgrade read from them). A rolling restart's drain waits for them: in a
 * cluster the primary may hand a connection over just before the worker's
 * listener closes, and its upgrade request is still on the way. Refusing it,
 * or closing it as idle, would fail a client the other workers could serve.
 */
import type { Duplex } from 'node:stream';
import { EmptyWaiters } from './empty-waiters';

export class UnservedConnections {
  private readonly sockets = new Set<Duplex>();
  private readonly waiters = new EmptyWaiters();

  get size(): number {
    return this.sockets.size;
  }

  track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.served(socket));
  }

  /** The socket's first request or upgrade was handled (or it closed). */
  served(socket: Duplex): void {
    if (this.sockets.delete(socket) && this.sockets.size === 0) this.waiters.release();
  }

  /** Resolves once no tracked connection is waiting to be served. */
  whenNone(): Promise<void> {
    return this.waiters.wait(this.sockets.size === 0);
  }
}
