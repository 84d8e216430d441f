/**
 * Plays a MessageCase over a real WebSocket (the ws client library) and
 * reports how the connection ended: the server's close code and reason, and
 * the code of the `error` message a native server sent before it. Every
 * wait is for the server's close, bounded by a deadline that fails the case.
 */
import WebSocket from 'ws';
import type { CaseOutcome, MessageCase } from './fuzz-case';

export interface Endpoint {
  /** ws://127.0.0.1:PORT */
  readonly origin: string;
  /** Headers for the case's dialect (a bearer token, Basic credentials, a Twilio signature). */
  readonly headers: (mcase: MessageCase) => Record<string, string>;
}

const DEFAULT_PATH = { native: '/v1/ingest', exotel: '/v1/exotel', twilio: '/v1/twilio' } as const;

export interface PlayedCase extends CaseOutcome {
  /** Messages the client got onto the socket. */
  readonly sent: number;
}

export function playMessageCase(endpoint: Endpoint, mcase: MessageCase, deadlineMs: number): Promise<PlayedCase> {
  return new Promise((resolve, reject) => {
    const url = endpoint.origin + (mcase.path ?? DEFAULT_PATH[mcase.dialect]);
    const ws = new WebSocket(url, { headers: endpoint.headers(mcase), perMessageDeflate: false });
    let errorCode: string | undefined;
    let sent = 0;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no close within ${deadlineMs} ms`));
    }, deadlineMs);
    ws.on('error', () => undefined); // the close tells the outcome
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`upgrade refused with ${res.statusCode}`));
    });
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return;
      try {
        const message = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
        if ((message.type ?? message.event) === 'error') errorCode = String(message.code);
      } catch {
        errorCode = 'unparsable server message';
      }
    });
    ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString(), sent, ...(errorCode !== undefined ? { errorCode } : {}) });
    });
    ws.once('open', () => {
      for (const message of mcase.messages) {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(message.data, { binary: message.binary });
        sent++;
      }
      if (ws.readyState !== WebSocket.OPEN) return;
      if (mcase.then === 'stop') {
        ws.send(mcase.dialect === 'native' ? '{"type":"stop"}' : '{"event":"stop"}');
        sent++;
      } else if (mcase.then === 'close') ws.close(1000);
    });
  });
}
