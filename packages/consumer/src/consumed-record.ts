/**
 * A record as a consumer reads it back (docs/protocol.md 3), whichever backend
 * it came from: Redis stream fields and Kafka headers carry the attributes as
 * strings, the `payload` field or the Kafka value the audio bytes. `position`
 * says where the backend holds it (a Redis entry id, `partition:offset`), and
 * `backend_time` is the backend's own time for it (the entry id's milliseconds,
 * the Kafka message timestamp).
 */
import { ConsumerError } from './consumer-error.js';
import { frameSizesOf } from './frame-sizes.js';

export type Source = 'native' | 'exotel' | 'twilio';
export type Encoding = 'pcm_s16le' | 'mulaw' | 'alaw' | 'opus';

interface Common {
  readonly tenant_id: string;
  readonly interaction_id: string;
  readonly stream_id: string;
  readonly source: Source;
  readonly received_at: string;
  /** Where the backend holds the record: a Redis entry id, or `partition:offset` in Kafka. */
  readonly position: string;
  /** The backend's time for the record, in ms since the epoch (undefined when it has none). */
  readonly backend_time?: number;
}

export interface StartedRecord extends Common {
  readonly type: 'stream_started';
  readonly encoding: Encoding;
  readonly sample_rate: number;
  readonly channels: number;
  readonly first_seq: number;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface AudioRecord extends Common {
  readonly type: 'audio';
  readonly seq_start: number;
  readonly seq_end: number;
  readonly frames: number;
  readonly encoding: Encoding;
  readonly sample_rate: number;
  readonly channels: number;
  /** Each frame's size in bytes, from `frame_bytes` / `frame_sizes`. */
  readonly frame_sizes: readonly number[];
  readonly payload: Buffer;
}

export interface EndedRecord extends Common {
  readonly type: 'stream_ended';
  readonly last_seq: number;
  readonly frames: number;
  readonly reason: string;
}

export interface DtmfRecord extends Common {
  readonly type: 'dtmf';
  readonly digit: string;
  readonly duration_ms?: number;
}

export interface MarkRecord extends Common {
  readonly type: 'mark';
  readonly name: string;
}

export type ConsumedRecord = StartedRecord | AudioRecord | EndedRecord | DtmfRecord | MarkRecord;

/** A record's attributes by name, as raw bytes or text. */
export type RecordFields = ReadonlyMap<string, Buffer | string>;

const SOURCES: readonly string[] = ['native', 'exotel', 'twilio'];
const ENCODINGS: readonly string[] = ['pcm_s16le', 'mulaw', 'alaw', 'opus'];

/** Reads one record from its fields; throws `record_invalid` naming what is wrong. */
export function parseRecord(fields: RecordFields, position: string, backendTime?: number): ConsumedRecord {
  const text = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) throw invalid(position, `no ${name}`);
    return typeof value === 'string' ? value : value.toString('utf8');
  };
  const optional = (name: string): string | undefined => (fields.has(name) ? text(name) : undefined);
  const integer = (name: string): number => {
    const value = Number(text(name));
    if (!Number.isSafeInteger(value) || value < 0) throw invalid(position, `${name} "${text(name)}"`);
    return value;
  };
  const source = text('source');
  if (!SOURCES.includes(source)) throw invalid(position, `source "${source}"`);
  const common: Common = {
    tenant_id: text('tenant_id'),
    interaction_id: text('interaction_id'),
    stream_id: text('stream_id'),
    source: source as Source,
    received_at: text('received_at'),
    position,
    ...(backendTime === undefined ? {} : { backend_time: backendTime }),
  };
  const encoding = (): Encoding => {
    const value = text('encoding');
    if (!ENCODINGS.includes(value)) throw invalid(position, `encoding "${value}"`);
    return value as Encoding;
  };
  const type = text('type');
  switch (type) {
    case 'stream_started': {
      let metadata: unknown = {};
      const raw = optional('metadata');
      if (raw !== undefined) {
        try {
          metadata = JSON.parse(raw);
        } catch {
          throw invalid(position, 'metadata is not JSON');
        }
      }
      return {
        ...common,
        type,
        encoding: encoding(),
        sample_rate: integer('sample_rate'),
        channels: integer('channels'),
        first_seq: integer('first_seq'),
        metadata: (metadata ?? {}) as Record<string, unknown>,
      };
    }
    case 'audio': {
      const seqStart = integer('seq_start');
      const seqEnd = integer('seq_end');
      const frames = integer('frames');
      if (seqEnd - seqStart + 1 !== frames) throw invalid(position, `seq ${seqStart}-${seqEnd} for ${frames} frames`);
      const payload = fields.get('payload');
      const bytes = payload === undefined ? Buffer.alloc(0) : Buffer.from(payload);
      const sizes = frameSizesOf({
        frames,
        frame_bytes: optional('frame_bytes'),
        frame_sizes: optional('frame_sizes'),
      });
      const total = sizes.reduce((n, s) => n + s, 0);
      if (total !== bytes.length)
        throw invalid(position, `frame sizes add up to ${total} bytes, payload has ${bytes.length}`);
      return {
        ...common,
        type,
        seq_start: seqStart,
        seq_end: seqEnd,
        frames,
        encoding: encoding(),
        sample_rate: integer('sample_rate'),
        channels: integer('channels'),
        frame_sizes: sizes,
        payload: bytes,
      };
    }
    case 'stream_ended':
      return { ...common, type, last_seq: integer('last_seq'), frames: integer('frames'), reason: text('reason') };
    case 'dtmf': {
      const duration = optional('duration_ms');
      return {
        ...common,
        type,
        digit: text('digit'),
        ...(duration === undefined ? {} : { duration_ms: Number(duration) }),
      };
    }
    case 'mark':
      return { ...common, type, name: text('name') };
    default:
      throw invalid(position, `type "${type}"`);
  }
}

/** A Redis stream entry's flat field list (`XRANGE`/`XREADGROUP` with Buffer replies) as fields. */
export function redisEntryFields(flat: readonly Buffer[]): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i].toString('utf8'), flat[i + 1]);
  return fields;
}

/** The milliseconds part of a Redis stream entry id (`1700000000000-0`). */
export function redisEntryTime(id: string): number {
  return Number(id.split('-')[0]);
}

/** A Kafka message as fields: the headers, the value as an audio record's payload; a JSON value fills the rest. */
export function kafkaMessageFields(
  headers: Readonly<Record<string, Buffer | string | ReadonlyArray<Buffer | string> | undefined>> | undefined,
  value: Buffer | null,
): Map<string, Buffer | string> {
  const fields = new Map<string, Buffer | string>();
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const one = Array.isArray(raw) ? (raw as ReadonlyArray<Buffer | string>)[0] : (raw as Buffer | string | undefined);
    if (one !== undefined) fields.set(name, one);
  }
  const type = fields.get('type')?.toString();
  if (type === 'audio') fields.set('payload', value ?? Buffer.alloc(0));
  else if (value && value.length > 0) {
    // Other records carry a JSON object as their value; the headers hold the same attributes.
    try {
      const parsed: unknown = JSON.parse(value.toString('utf8'));
      if (parsed && typeof parsed === 'object') {
        for (const [name, v] of Object.entries(parsed as Record<string, unknown>)) {
          if (fields.has(name) || v === undefined || v === null) continue;
          fields.set(name, typeof v === 'string' ? v : JSON.stringify(v));
        }
      }
    } catch {
      // the headers alone are the record
    }
  }
  return fields;
}

function invalid(position: string, what: string): ConsumerError {
  return new ConsumerError('record_invalid', `record at ${position} is invalid: ${what}`);
}
