/**
 * The native wire protocol (protocol.md 1.2-1.3): client text messages parsed
 * and validated into typed values, and server messages encoded for either
 * dialect (current `type` form, or the earlier `event` form of 1.2.1).
 */
import { IngestError } from './errors';
import type { Encoding } from './publishing/records';

export type Dialect = 'v1' | 'legacy';

export interface MediaFormat {
  readonly encoding: Encoding;
  readonly sample_rate: number;
  readonly channels: number;
}

export interface StartMessage {
  readonly type: 'start';
  readonly dialect: Dialect;
  readonly interaction_id: string;
  readonly tenant_id?: string;
  readonly media: MediaFormat;
  readonly first_seq: number;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export type ClientMessage = StartMessage | { readonly type: 'keepalive' } | { readonly type: 'stop' };

export const INTERACTION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const ENCODINGS: readonly Encoding[] = ['pcm_s16le', 'mulaw', 'alaw', 'opus'];
export const MAX_METADATA_BYTES = 4096;
/** The sample rates a stream may declare, native or telephony (Hz, inclusive). */
export const MIN_SAMPLE_RATE = 8000;
export const MAX_SAMPLE_RATE = 48000;
const LEGACY_ENCODINGS: Readonly<Record<string, Encoding>> = { pcm16: 'pcm_s16le' };

function invalidStart(message: string): IngestError {
  return new IngestError('invalid_start', message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses one client text message; throws IngestError with a close-worthy code. */
export function parseClientMessage(text: string): ClientMessage {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new IngestError('invalid_message', 'text message is not valid JSON');
  }
  if (!isPlainObject(body)) throw new IngestError('invalid_message', 'text message must be a JSON object');
  const legacy = body.type === undefined && typeof body.event === 'string';
  const kind = legacy ? body.event : body.type;
  switch (kind) {
    case 'start':
      return parseStart(body, legacy ? 'legacy' : 'v1');
    case 'keepalive':
      return { type: 'keepalive' };
    case 'stop':
      return { type: 'stop' };
    default:
      throw new IngestError(
        'invalid_message',
        typeof kind === 'string' ? `unknown message type "${kind.slice(0, 40)}"` : 'text message has no "type"',
      );
  }
}

function parseStart(body: Record<string, unknown>, dialect: Dialect): StartMessage {
  const interactionId = body.interaction_id;
  if (typeof interactionId !== 'string' || !INTERACTION_ID_PATTERN.test(interactionId)) {
    throw invalidStart('interaction_id must be 1-128 characters of [A-Za-z0-9._:-]');
  }
  if (body.tenant_id !== undefined && typeof body.tenant_id !== 'string') {
    throw invalidStart('tenant_id must be a string');
  }
  const media = parseMedia(dialect === 'legacy' ? body : body.media, dialect);
  const firstSeq = body.first_seq ?? 1;
  if (typeof firstSeq !== 'number' || !Number.isSafeInteger(firstSeq) || firstSeq < 1) {
    throw invalidStart('first_seq must be a positive integer');
  }
  const metadata = body.metadata ?? {};
  if (!isPlainObject(metadata)) throw invalidStart('metadata must be a JSON object');
  if (serialisedBytes(metadata) > MAX_METADATA_BYTES) {
    throw invalidStart(`metadata must be at most ${MAX_METADATA_BYTES} bytes serialised`);
  }
  return {
    type: 'start',
    dialect,
    interaction_id: interactionId,
    ...(typeof body.tenant_id === 'string' ? { tenant_id: body.tenant_id } : {}),
    media,
    first_seq: firstSeq,
    metadata,
  };
}

function parseMedia(source: unknown, dialect: Dialect): MediaFormat {
  if (source === undefined) return { encoding: 'pcm_s16le', sample_rate: 8000, channels: 1 };
  if (!isPlainObject(source)) throw invalidStart('media must be a JSON object');
  let encoding = source.encoding ?? 'pcm_s16le';
  if (dialect === 'legacy' && typeof encoding === 'string') encoding = LEGACY_ENCODINGS[encoding] ?? encoding;
  if (typeof encoding !== 'string' || !ENCODINGS.includes(encoding as Encoding)) {
    throw invalidStart(`media.encoding must be one of ${ENCODINGS.join(', ')}`);
  }
  const sampleRate = source.sample_rate ?? 8000;
  if (!isSampleRate(sampleRate)) {
    throw invalidStart(`media.sample_rate must be an integer from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE}`);
  }
  const channels = source.channels ?? 1;
  if (channels !== 1 && channels !== 2) throw invalidStart('media.channels must be 1 or 2');
  return { encoding: encoding as Encoding, sample_rate: sampleRate, channels };
}

/** A sample rate a stream may declare: an integer from MIN_SAMPLE_RATE to MAX_SAMPLE_RATE. */
export function isSampleRate(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= MIN_SAMPLE_RATE && value <= MAX_SAMPLE_RATE;
}

/**
 * Bytes of `value` as JSON; Infinity when it cannot be serialised at all (a
 * client can nest a 10 KB object deep enough to overflow JSON.stringify's stack).
 */
export function serialisedBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value));
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Server → client messages, pre-shaped per dialect. Cheap string building: acks are on the hot path. */
export class ServerMessages {
  private readonly key: string;

  constructor(dialect: Dialect) {
    this.key = dialect === 'legacy' ? '{"event":"' : '{"type":"';
  }

  started(streamId: string, interactionId: string, nextSeq: number): string {
    const interaction = JSON.stringify(interactionId);
    return `${this.key}started","stream_id":"${streamId}","interaction_id":${interaction},"next_seq":${nextSeq}}`;
  }

  ack(seq: number): string {
    return `${this.key}ack","seq":${seq}}`;
  }

  committed(seq: number): string {
    return `${this.key}committed","seq":${seq}}`;
  }

  stopped(lastSeq: number, frames: number): string {
    return `${this.key}stopped","last_seq":${lastSeq},"frames":${frames}}`;
  }

  error(code: string, message: string): string {
    return `${this.key}error","code":${JSON.stringify(code)},"message":${JSON.stringify(message)}}`;
  }
}

/** The closes a server starts (docs/protocol.md §2): both mean "resume from last committed + 1". */
export const SERVER_CLOSE = Object.freeze({
  /** The service is shutting down (SIGTERM): reconnect through the balancer. */
  shutdown: Object.freeze({ code: 1001, reason: 'server shutting down' }),
  /** This worker is being replaced (rolling restart); the others keep serving. */
  restart: Object.freeze({ code: 1012, reason: 'service restart' }),
});
