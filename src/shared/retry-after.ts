/**
 * Retry-After on every 429 and 503 the service answers, on PORT and on
 * METRICS_PORT alike: refused upgrades (connection limits, starting, draining,
 * key set unavailable), /ready and /health. A start, a drain or a freed
 * connection slot is a matter of seconds, so one value serves them all. Probes
 * ignore the header; one rule for every answer is what clients and the tests can hold to.
 */

/** Seconds a refused client is told to wait. */
export const RETRY_AFTER_S = 5;

/** The Retry-After header for `status`: present for 429 and 503, absent for anything else. */
export function retryAfterHeaders(status: number): Record<string, string> {
  return status === 429 || status === 503 ? { 'Retry-After': String(RETRY_AFTER_S) } : {};
}
