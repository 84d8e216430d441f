/**
 * Decides whether a failed Redis command may succeed if tried again. The answer
 * becomes PublishError.retryable: retryable failures keep the stream's data and
 * back off; the others close the stream with 1011 (protocol.md 1.4), so a wrong
 * "false" loses a caller's stream and a wrong "true" retries forever.
 */
import { ReplyError } from 'ioredis';

/**
 * Reply prefixes that describe a server state that passes: still loading its
 * dataset, running a long script, failing over, out of memory until eviction or
 * consumers catch up, a replica that is about to be promoted. MISCONF: writes
 * are refused while background saves fail (a full or unwritable disk,
 * stop-writes-on-bgsave-error), and accepted again after the next save that
 * succeeds. UNBLOCKED: another client ended a blocked command (CLIENT
 * UNBLOCK ... ERROR). NOSCRIPT: the server lost its script cache (SCRIPT FLUSH,
 * a failover); ioredis loads the script again on the next call.
 */
const TRANSIENT_REPLY_PREFIXES = new Set([
  'LOADING',
  'BUSY',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'OOM',
  'READONLY',
  'NOREPLICAS',
  'MOVED',
  'ASK',
  'MISCONF',
  'UNBLOCKED',
  'NOSCRIPT',
]);

/** The leading upper-case word of a Redis error reply (`WRONGTYPE Operation...` → `WRONGTYPE`). */
export function replyPrefix(message: string): string {
  const match = /^([A-Z][A-Z_-]*)\b/.exec(message);
  return match ? match[1] : '';
}

export function isReplyError(err: unknown): err is Error {
  return (
    err instanceof (ReplyError as new (...args: unknown[]) => Error) ||
    (err instanceof Error && err.name === 'ReplyError')
  );
}

/**
 * A reply error is retryable only for the transient prefixes above. WRONGTYPE,
 * ERR (syntax, limits), NOAUTH, WRONGPASS and NOPERM do not change by waiting:
 * they are data or configuration problems, not retryable.
 *
 * Every other error never reached a Redis verdict: connection refused or reset,
 * "Connection is closed", the offline queue being disabled while reconnecting,
 * MaxRetriesPerRequestError, a command timeout. Those are transport failures and
 * retryable.
 */
export function isRetryableRedisError(err: unknown): boolean {
  if (!isReplyError(err)) return true;
  return TRANSIENT_REPLY_PREFIXES.has(replyPrefix(err.message));
}
