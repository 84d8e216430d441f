/**
 * The seam between a stream and its socket: a ws WebSocket in production
 * (native-connection.ts adapts one), a fake in unit tests. Closing goes
 * through closeTransport, so that no close can leave a session unfinished.
 */
import type { Logger } from 'pino';

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
export function closeTransport(transport: StreamTransport, code: number, reason: string, log: Logger): void {
  try {
    transport.close(code, truncateReason(reason));
  } catch (err) {
    log.error({ err, close_code: code }, 'closing the socket failed: terminating it');
    transport.terminate();
  }
}

/** WebSocket close reasons are limited to 123 bytes: cut by whole characters, never inside one. */
export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = [...reason];
  while (Buffer.byteLength(cut.join('')) > 120) cut = cut.slice(0, -1);
  return cut.join('') + '...';
}
