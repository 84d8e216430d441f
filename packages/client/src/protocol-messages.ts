/** The native protocol's messages as the client writes and reads them (docs/protocol.md 1.2-1.3). */
import type { MediaOptions } from './client-options.js';
import { DEFAULTS } from './client-options.js';
import { IngestClientError } from './errors.js';

export interface StartRequest {
  readonly interactionId: string;
  readonly media: MediaOptions | undefined;
  readonly metadata: Record<string, unknown> | undefined;
  readonly firstSeq: number;
}

export function startMessage(request: StartRequest): string {
  return JSON.stringify({
    type: 'start',
    interaction_id: request.interactionId,
    media: {
      encoding: request.media?.encoding ?? DEFAULTS.encoding,
      sample_rate: request.media?.sampleRate ?? DEFAULTS.sampleRate,
      channels: request.media?.channels ?? DEFAULTS.channels,
    },
    first_seq: request.firstSeq,
    ...(request.metadata !== undefined ? { metadata: request.metadata } : {}),
  });
}

export const STOP_MESSAGE = JSON.stringify({ type: 'stop' });

export const KEEPALIVE_MESSAGE = JSON.stringify({ type: 'keepalive' });

export type ServerMessage =
  | { readonly type: 'started'; readonly streamId: string; readonly nextSeq: number }
  | { readonly type: 'ack'; readonly seq: number }
  | { readonly type: 'committed'; readonly seq: number }
  | { readonly type: 'stopped'; readonly lastSeq: number; readonly frames: number }
  | { readonly type: 'error'; readonly code: string; readonly message: string }
  /** A type this client does not know (a newer server): ignored. */
  | { readonly type: 'other' };

/** Parses one text message; throws `protocol` for one that breaks the contract. */
export function parseServerMessage(text: string): ServerMessage {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw protocolError(`the server sent a message that is not JSON: ${text.slice(0, 80)}`);
  }
  if (typeof body !== 'object' || body === null) throw protocolError('the server sent a message that is not an object');
  const message = body as Record<string, unknown>;
  switch (message.type) {
    case 'started':
      return { type: 'started', streamId: String(message.stream_id), nextSeq: seqField(message, 'next_seq') };
    case 'ack':
    case 'committed':
      return { type: message.type, seq: seqField(message, 'seq') };
    case 'stopped':
      return { type: 'stopped', lastSeq: seqField(message, 'last_seq'), frames: seqField(message, 'frames') };
    case 'error':
      return { type: 'error', code: String(message.code), message: String(message.message) };
    default:
      return { type: 'other' };
  }
}

function seqField(message: Record<string, unknown>, name: string): number {
  const value = message[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw protocolError(`the server's ${String(message.type)} message has no valid ${name}`);
  }
  return value;
}

function protocolError(message: string): IngestClientError {
  return new IngestClientError('protocol', message);
}
