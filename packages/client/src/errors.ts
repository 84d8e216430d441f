/** The errors the client raises: one class, a stable `code` to branch on and a message for people. */

/**
 * - `buffer_full`: `send` with `whenFull: 'reject'` while the uncommitted frames hold `maxUncommittedBytes`.
 * - `aborted`: the caller's AbortSignal fired.
 * - `closed`: the client was closed (by `close()`, or by the server with a close that ends the stream).
 * - `refused`: the server refused the upgrade for good (401, 403, 404, or another status that retrying cannot fix),
 *   or the runtime's WebSocket would not open a connection with this URL and token.
 * - `protocol`: the server closed with 1008/1009 (or another protocol close), or answered something unexpected.
 * - `reconnect_exhausted`: `backoff.maxAttempts` connection attempts in a row failed.
 * - `frame_too_large`: a frame over `maxFrameBytes`; the stream stays open.
 * - `invalid_options`: the constructor was given options that cannot work.
 */
export type IngestClientErrorCode =
  | 'buffer_full'
  | 'aborted'
  | 'closed'
  | 'refused'
  | 'protocol'
  | 'reconnect_exhausted'
  | 'frame_too_large'
  | 'invalid_options';

export interface IngestClientErrorDetails {
  /** The WebSocket close code that caused the error, when there was one. */
  readonly closeCode?: number;
  /** The HTTP status of a refused upgrade, when the runtime can see it (Node does, browsers do not). */
  readonly status?: number;
  /** The `code` of the server's `error` message before its close, e.g. `send_buffer_full`, `frame_too_large`. */
  readonly serverCode?: string;
}

export class IngestClientError extends Error {
  override readonly name = 'IngestClientError';
  readonly closeCode: number | undefined;
  readonly status: number | undefined;
  readonly serverCode: string | undefined;

  constructor(
    readonly code: IngestClientErrorCode,
    message: string,
    details: IngestClientErrorDetails = {},
  ) {
    super(message);
    this.closeCode = details.closeCode;
    this.status = details.status;
    this.serverCode = details.serverCode;
  }
}
