/**
 * The records downstream consumers read (protocol.md section 3). Every adapter
 * publishes exactly these shapes; the field names are the wire contract.
 */
import { IngestError } from '../errors';
import type { FrameSizeField } from './frame-sizes';

export type RecordType = 'stream_started' | 'audio' | 'stream_ended' | 'dtmf' | 'mark';
export type Source = 'native' | 'exotel' | 'twilio';
export type Encoding = 'pcm_s16le' | 'mulaw' | 'alaw' | 'opus';

export type EndReason =
  'stop' | 'client_closed' | 'idle_timeout' | 'ping_timeout' | 'shutdown' | 'error' | `stop:${string}`;

export interface RecordBase {
  readonly tenant_id: string;
  readonly interaction_id: string;
  readonly stream_id: string;
  readonly source: Source;
  /** ISO-8601 time the record was formed. */
  readonly received_at: string;
}

export interface StreamStartedRecord extends RecordBase {
  readonly type: 'stream_started';
  readonly encoding: Encoding;
  readonly sample_rate: number;
  readonly channels: number;
  readonly first_seq: number;
  /** Client metadata (native) or provider parameters (telephony), passed through. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

interface AudioFields extends RecordBase {
  readonly type: 'audio';
  /** The seq of the first frame; the frames are numbered seq_start..seq_end without gaps. */
  readonly seq_start: number;
  readonly seq_end: number;
  readonly frames: number;
  readonly encoding: Encoding;
  readonly sample_rate: number;
  readonly channels: number;
  /** The frames' bytes concatenated in order; `frame_bytes` or `frame_sizes` cut it back into frames. */
  readonly payload: Buffer;
}

export type AudioRecord = AudioFields & FrameSizeField;

export interface StreamEndedRecord extends RecordBase {
  readonly type: 'stream_ended';
  readonly last_seq: number;
  readonly frames: number;
  readonly reason: EndReason;
}

export interface DtmfRecord extends RecordBase {
  readonly type: 'dtmf';
  readonly digit: string;
  readonly duration_ms?: number;
}

export interface MarkRecord extends RecordBase {
  readonly type: 'mark';
  readonly name: string;
}

export type IngestRecord = StreamStartedRecord | AudioRecord | StreamEndedRecord | DtmfRecord | MarkRecord;

/**
 * A record without its tenant or interaction cannot be routed or deduplicated
 * downstream: it is a bug upstream of the publisher, never something to publish.
 */
export function assertRecordRoutable(record: IngestRecord): void {
  if (typeof record.tenant_id !== 'string' || record.tenant_id.length === 0) {
    throw new IngestError('record_invalid', `record of type ${record.type} has no tenant_id`);
  }
  if (typeof record.interaction_id !== 'string' || record.interaction_id.length === 0) {
    throw new IngestError('record_invalid', `record of type ${record.type} has no interaction_id`);
  }
}

/**
 * The frames whose seq numbers belong together (protocol.md "Deduplicating by
 * frame sequence"): a native client resumes an interaction on new connections
 * (new stream ids) and numbers on from its last committed frame, so its space
 * is the interaction; a telephony provider numbers each stream from its first
 * chunk, under a call id that its tracks and forks share, and never resumes
 * one, so its space is the stream. The JSON array keeps the parts apart
 * whatever characters the ids hold. Redis deduplication and the worker's order
 * of resumed sessions both key on it.
 */
export function sequenceSpace(ids: Pick<RecordBase, 'source' | 'tenant_id' | 'interaction_id' | 'stream_id'>): string {
  const { source, tenant_id, interaction_id, stream_id } = ids;
  return JSON.stringify(
    source === 'native' ? [source, tenant_id, interaction_id] : [source, tenant_id, interaction_id, stream_id],
  );
}

/**
 * The attributes of a record other than its payload, as strings: Redis stream
 * fields and Kafka headers both carry exactly this.
 */
export function recordAttributes(record: IngestRecord): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const fields = record as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key === 'payload') continue;
    const value = fields[key];
    if (value === undefined) continue;
    out.push([
      key,
      typeof value === 'string'
        ? value
        : typeof value === 'number' || typeof value === 'boolean'
          ? String(value)
          : JSON.stringify(value),
    ]);
  }
  return out;
}
