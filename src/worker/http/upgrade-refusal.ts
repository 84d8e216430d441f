/**
 * Writes an HTTP refusal on the raw socket of an upgrade request (protocol.md
 * 1.1): the status, the headers that status calls for, a small JSON body
 * naming the error, then the socket ends.
 */
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { IngestError } from '../../shared/errors';
import { retryAfterHeaders } from '../../shared/retry-after';

export function refuseUpgrade(socket: Duplex, error: IngestError): void {
  const status = error.status ?? 400;
  const body = JSON.stringify({ error: error.code, message: error.message });
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
    ...retryAfterHeaders(status),
  };
  const challenge = challengeFor(error);
  if (challenge) headers['WWW-Authenticate'] = challenge;
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${head}\r\n\r\n${body}`);
}

/**
 * The 401 challenge names the scheme the refused client should use: Bearer
 * for native streams (protocol.md 1.1), Basic for Exotel. Twilio signs its
 * requests instead of answering a challenge, so it gets none.
 */
function challengeFor(error: IngestError): string | undefined {
  if (error.status !== 401) return undefined;
  if (error.code === 'exotel_unauthorized') return 'Basic realm="ingest", charset="UTF-8"';
  if (error.code === 'twilio_signature_invalid') return undefined;
  return 'Bearer error="invalid_token"';
}
