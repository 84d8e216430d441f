/**
 * The seam between a stream and its socket: a ws WebSocket in production
 * (native-connection.ts adapts one), a fake in unit tests. Closing goes
 * through closeTransport, so that no close can leave a session unfinished.
 */
import type { Log } from '../../shared/process/bound-log';

/** What a session needs from its socket. */
export interface StreamTransport {
  readonly isOpen: boolean;
  /** Bytes sent but not yet written to the network: what a peer that does not read leaves queued. */
  readonly bufferedAmount: number;
  send(text: string): void;
  close(code: number, reason: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
}

/** A close that cannot throw: a session that failed to close would never finish, and hold up shutdown. */
export function closeTransport(transport: StreamTransport, code: number, reason: string, log: Log): void {
  try {
    transport.close(code, truncateReason(reason));
  } catch (err) {
    log.error({ err, close_code: code }, 'closing the socket failed: terminating it');
    transport.terminate();
  }
}

/**
 * The close codes a metric label may carry: those RFC 6455 and the IANA registry define (1000-1015).
 * A client chooses its own close code (3000-4999 are free for applications), and an unbounded label
 * would grow the metrics without end: every other code is `other`.
 */
const KNOWN_CLOSE_CODES: ReadonlySet<number> = new Set([
  1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015,
]);

/** The `code` label of ingest_stream_closes_total for a close code. */
export function closeCodeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other';
}

/** WebSocket close reasons are limited to 123 bytes: cut by whole characters, never inside one. */
export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = [...reason];
  while (Buffer.byteLength(cut.join('')) > 120) cut = cut.slice(0, -1);
  return cut.join('') + '...';
}
