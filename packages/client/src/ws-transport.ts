/**
 * The Node transport: `ws`, which can send the token as an `Authorization: Bearer`
 * header (kept out of URLs and subprotocol lists) and shows a refused upgrade's HTTP
 * status and Retry-After, which a browser hides behind a plain 1006. `ws` is an
 * optional peer dependency: it is loaded on the first connection, so a caller that
 * injects its own WebSocket does not need it installed.
 */
import type WebSocket from 'ws';
import { IngestClientError } from './errors.js';
import { retryAfterMs, type Transport } from './transport.js';
import { adaptWebSocket, type WebSocketLike } from './websocket-transport.js';

let loading: Promise<typeof WebSocket> | undefined;

function loadWs(): Promise<typeof WebSocket> {
  loading ??= import('ws').then(
    (module) => module.default,
    () => {
      loading = undefined; // installed later: try again then
      throw new IngestClientError(
        'invalid_options',
        'the Node.js entry of @ingest/client needs the ws package (npm install ws), or options.WebSocket',
      );
    },
  );
  return loading;
}

export function wsTransport(): Transport {
  let WebSocketClass: typeof WebSocket | undefined;
  return {
    ready: async () => {
      WebSocketClass ??= await loadWs();
    },
    open: (url, token, handlers) => {
      if (!WebSocketClass) throw new Error('wsTransport: open() before ready()');
      const ws = new WebSocketClass(url, { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false });
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
    },
  };
}
