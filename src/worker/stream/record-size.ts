/**
 * What one record weighs in a stream's backlog (MAX_STREAM_BACKLOG_BYTES,
 * MAX_WORKER_BACKLOG_BYTES): every record counts, not only audio.
 *
 * - `audio`: its payload bytes. The payload is the memory that grows with an
 *   outage; the fields beside it are a few hundred bytes per record, and a
 *   record holds BUFFER_DURATION_MS of audio or MAX_CHUNK_BYTES, so they are
 *   left out rather than estimated.
 * - every other record (`stream_started`, `stream_ended`, `dtmf`, `mark`): an
 *   estimate of its encoded size, the UTF-8 bytes of its field names and
 *   values as the adapters write them (Redis fields, Kafka headers; metadata
 *   as JSON). A source that sends events without audio (dtmf, marks) then
 *   fills its backlog like one that sends frames, and is paused the same way.
 *
 * Computed once per record, when it enters the queue (never per frame).
 */
import { recordAttributes, type IngestRecord } from '../../shared/publishing/records';

export function recordBytes(record: IngestRecord): number {
  if (record.type === 'audio') return record.payload.length;
  let bytes = 0;
  for (const [name, value] of recordAttributes(record)) bytes += name.length + Buffer.byteLength(value);
  return bytes;
}
