/**
 * How long the pool waits before replacing a worker that died: at once the
 * first time, then 100 ms doubling up to 30 s while workers keep dying, so a
 * crash loop never spins the CPU. A worker that lived long enough proves the
 * loop over and starts the count again.
 */

/** A worker that lived this long resets the backoff. */
export const STABLE_AFTER_MS = 10_000;
export const BACKOFF_BASE_MS = 100;
export const BACKOFF_MAX_MS = 30_000;

export class RestartBackoff {
  private consecutiveFailures = 0;

  /** Counts one unexpected exit and returns the delay before its replacement (0: at once). */
  next(livedMs: number): number {
    this.consecutiveFailures = livedMs >= STABLE_AFTER_MS ? 1 : this.consecutiveFailures + 1;
    return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.consecutiveFailures - 1)) - BACKOFF_BASE_MS;
  }
}
