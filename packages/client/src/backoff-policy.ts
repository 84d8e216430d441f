/**
 * How long to wait before each reconnect attempt of one outage: exponential from
 * `initialDelayMs`, capped at `maxDelayMs`, with "equal jitter" (half the delay fixed,
 * half random) so that the clients a restart dropped together do not come back together.
 */
import { IngestClientError } from './errors.js';

export interface BackoffOptions {
  /** Delay before the first attempt of an outage (before jitter). Default 250. */
  readonly initialDelayMs?: number;
  /** Cap on any one delay (before jitter). Default 10000. */
  readonly maxDelayMs?: number;
  /** Attempts per outage before the client gives up with `reconnect_exhausted`. Default Infinity. */
  readonly maxAttempts?: number;
  /**
   * The least delay after a 1011 (the backend refused the data) or a 1013 (the stream's backlog was full):
   * coming back sooner only meets the same trouble. Default 5000.
   */
  readonly backendDelayMs?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  maxAttempts: Infinity,
  backendDelayMs: 5000,
};

export class BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxAttempts: number;
  readonly backendDelayMs: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialDelayMs = options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_BACKOFF.maxAttempts;
    this.backendDelayMs = options.backendDelayMs ?? DEFAULT_BACKOFF.backendDelayMs;
    if (!(this.initialDelayMs >= 0) || !(this.maxDelayMs >= this.initialDelayMs)) {
      throw new IngestClientError('invalid_options', 'backoff: need 0 <= initialDelayMs <= maxDelayMs');
    }
    if (!(this.maxAttempts >= 1))
      throw new IngestClientError('invalid_options', 'backoff: maxAttempts must be at least 1');
    if (!(this.backendDelayMs >= 0))
      throw new IngestClientError('invalid_options', 'backoff: backendDelayMs must be at least 0');
  }

  /** Whether attempt `attempt` (1-based, within one outage) may still be made. */
  allows(attempt: number): boolean {
    return attempt <= this.maxAttempts;
  }

  /** The delay before attempt `attempt` (1-based), in [base/2, base] with base = min(max, initial × 2^(attempt-1)). */
  delayMs(attempt: number): number {
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(base / 2 + (this.random() * base) / 2);
  }
}
