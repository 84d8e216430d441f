/**
 * Everyone waiting for a collection to become empty (the drain waits for the
 * last stream, and for the last connection still to be served). The owner
 * knows when it is empty and says so; this only keeps the promises.
 */
export class EmptyWaiters {
  private waiters: Array<() => void> = [];

  /** Resolves at once when `empty`, else at the next release(). */
  wait(empty: boolean): Promise<void> {
    if (empty) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The collection has become empty: resolves every wait so far. */
  release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
