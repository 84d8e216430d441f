/**
 * What a lost connection means (docs/protocol.md 1.4): resume later, or give up with an
 * error. 1001, 1006, 1011, 1012 and 1013 resume (1012 at once; 1011 and 1013 not before
 * the backoff's backendDelayMs); so does an upgrade the service refused for now (429, 503,
 * or a 5xx from a balancer), and a 1000 without `stopped` (the service's idle timeout)
 * while the client still holds frames or has sends waiting: ending there would lose them.
 * 1008/1009 and refusals that retrying cannot fix (401, 403, 404, ...) end the stream.
 */
import { IngestClientError } from './errors.js';
import type { TransportClose } from './transport.js';

export const RESUMABLE_CLOSE_CODES: ReadonlySet<number> = new Set([1001, 1006, 1011, 1012, 1013]);

const PROTOCOL_CLOSE_CODES: ReadonlySet<number> = new Set([1002, 1003, 1007, 1008, 1009, 1010]);

export type CloseVerdict =
  | { readonly resume: true; readonly immediate: boolean; readonly minDelayMs: number }
  | { readonly resume: false; readonly error: IngestClientError };

export interface ServerError {
  readonly code: string;
  readonly message: string;
}

const BACKEND_TROUBLE_CODES: ReadonlySet<number> = new Set([1011, 1013]);

export interface CloseContext {
  /** The service's `error` message before the close, if any. */
  readonly serverError: ServerError | undefined;
  readonly backendDelayMs: number;
  /** The client holds uncommitted frames or has sends waiting. */
  readonly holding: boolean;
}

export function judgeClose(close: TransportClose, context: CloseContext): CloseVerdict {
  const { serverError, backendDelayMs } = context;
  if (close.status !== undefined) {
    if (close.status === 429 || close.status >= 500) {
      return { resume: true, immediate: false, minDelayMs: close.retryAfterMs ?? 0 };
    }
    return {
      resume: false,
      error: new IngestClientError('refused', `the service refused the connection with HTTP ${close.status}`, {
        status: close.status,
        closeCode: close.code,
      }),
    };
  }
  if (RESUMABLE_CLOSE_CODES.has(close.code) || (close.code === 1000 && context.holding)) {
    const minDelayMs = BACKEND_TROUBLE_CODES.has(close.code) ? backendDelayMs : 0;
    return { resume: true, immediate: close.code === 1012, minDelayMs };
  }
  const said = serverError ? `${serverError.code}: ${serverError.message}` : close.reason || 'no reason given';
  const details = { closeCode: close.code, ...(serverError ? { serverCode: serverError.code } : {}) };
  if (PROTOCOL_CLOSE_CODES.has(close.code)) {
    return {
      resume: false,
      error: new IngestClientError('protocol', `the server closed the stream with ${close.code} (${said})`, details),
    };
  }
  return {
    resume: false,
    error: new IngestClientError('closed', `the server closed the stream with ${close.code} (${said})`, details),
  };
}
