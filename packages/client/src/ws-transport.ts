/**
 * The Node transport: `ws`, which can send the token as an `Authorization: Bearer`
 * header (kept out of URLs and subprotocol lists) and shows a refused upgrade's HTTP
 * status and Retry-After, which a browser hides behind a plain 1006.
 */
import WebSocket from 'ws';
import { retryAfterMs, type Transport } from './transport.js';
import { adaptWebSocket, type WebSocketLike } from './websocket-transport.js';

export function wsTransport(): Transport {
  return (url, token, handlers) => {
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false });
    let refusal: { status: number; retryAfterMs: number | undefined } | undefined;
    ws.on('unexpected-response', (_request, response) => {
      const header = response.headers['retry-after'];
      refusal = { status: response.statusCode ?? 0, retryAfterMs: retryAfterMs(header) };
      response.resume();
      // Handling the event leaves the handshake open: end it; ws then reports 1006.
      ws.terminate();
    });
    return adaptWebSocket(ws as unknown as WebSocketLike, {
      onOpen: () => handlers.onOpen(),
      onMessage: (text) => handlers.onMessage(text),
      onClose: (close) => handlers.onClose(refusal ? { ...close, ...refusal } : close),
    });
  };
}
