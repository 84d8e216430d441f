/**
 * Writes an HTTP refusal on the raw socket of an upgrade request (protocol.md
 * 1.1): the status, a small JSON body naming the error, then the socket ends.
 */
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { IngestError } from '../shared/errors';

export function refuseUpgrade(socket: Duplex, error: IngestError, extraHeaders: Record<string, string> = {}): void {
  const status = error.status ?? 400;
  const body = JSON.stringify({ error: error.code, message: error.message });
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
    ...extraHeaders,
  };
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer error="invalid_token"';
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${head}\r\n\r\n${body}`);
}
