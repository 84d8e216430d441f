/**
 * The transport over a standard WebSocket (browsers, Deno, Node 22's global, or any
 * constructor with that API): browsers cannot set headers, so the token travels as the
 * `bearer.<jwt>` subprotocol offered next to `ingest.v1`. A refused upgrade is invisible
 * here: the browser reports a plain 1006.
 */
import { PROTOCOL, type Connection, type Transport, type TransportHandlers } from './transport.js';

/** What the client needs of a WebSocket object (the standard API's subset). */
export interface WebSocketLike {
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { readonly data: unknown }) => void) | null;
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/**
 * A WebSocket constructor: `globalThis.WebSocket`, `ws`'s default export, or a fake.
 * Typed loosely on purpose so that each of them fits without a cast.
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown;

/** The standard WebSocket of this runtime, if it has one. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

export function webSocketTransport(WebSocketImpl: WebSocketConstructor): Transport {
  return {
    ready: () => Promise.resolve(),
    open: (url, token, handlers) => {
      const ws = new WebSocketImpl(url, [PROTOCOL, `bearer.${token}`]) as WebSocketLike;
      return adaptWebSocket(ws, handlers);
    },
  };
}

/** Wires a standard-API socket to the handlers; `onClose` fires at most once. */
export function adaptWebSocket(ws: WebSocketLike, handlers: TransportHandlers): Connection {
  let closed = false;
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => handlers.onOpen();
  ws.onmessage = (event) => {
    if (typeof event.data === 'string') handlers.onMessage(event.data);
  };
  // An error is always followed by a close, which carries what the client acts on.
  ws.onerror = () => undefined;
  ws.onclose = (event) => {
    if (closed) return;
    closed = true;
    handlers.onClose({ code: event.code, reason: event.reason });
  };
  return {
    send: (data) => ws.send(data),
    close: (code, reason) => {
      try {
        ws.close(code, reason);
      } catch {
        // Closing a socket that is already closing (or failed) has nothing left to do.
      }
    },
  };
}
