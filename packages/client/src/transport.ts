/**
 * The seam between the client and a WebSocket implementation: open a connection with a
 * token, hear open/message/close, send, close. Two implementations: the standard
 * (browser) WebSocket with the token in a subprotocol (websocket-transport.ts), and
 * `ws` in Node with an Authorization header (ws-transport.ts).
 */

/** The subprotocol the service selects; browsers offer the token beside it as `bearer.<jwt>`. */
export const PROTOCOL = 'ingest.v1';

export interface TransportClose {
  readonly code: number;
  readonly reason: string;
  /** The HTTP status of a refused upgrade, where the runtime shows it (Node with ws). */
  readonly status?: number;
  /** The refusal's Retry-After, in ms, where visible. */
  readonly retryAfterMs?: number;
}

export interface TransportHandlers {
  onOpen(): void;
  /** A text message (the server sends nothing else). */
  onMessage(text: string): void;
  /** Called once per connection, also when it never opened. */
  onClose(close: TransportClose): void;
}

export interface Connection {
  send(data: string | Uint8Array): void;
  /** Closes (or abandons, while connecting) the connection; its handlers may still fire once more. */
  close(code: number, reason: string): void;
}

export interface Transport {
  /**
   * Resolves once connections can be opened (the Node entry loads `ws` here, only when it is
   * used); rejects with an IngestClientError when they never can.
   */
  ready(): Promise<void>;
  /** Opens a connection; may throw (a URL or token the implementation refuses). */
  open(url: string, token: string, handlers: TransportHandlers): Connection;
}

/** Parses a Retry-After value (seconds, or an HTTP date) into ms from now. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
