/**
 * A published record as a consumer reads it back, whatever the backend: each
 * attribute's bytes by name, and `payload` for an audio record. Redis stream
 * entries, Kafka messages and in_memory records all become this one shape, so
 * that a check is written once and holds for every backend.
 */
import assert from 'node:assert/strict';
import type { FrameSizeSource } from '../../packages/consumer/src/frame-sizes';
import { recordAttributes, type IngestRecord } from '../../src/shared/publishing/records';
import type { TopicMessage } from './kafka';
import type { StreamEntry } from './redis';

export type FieldMap = Map<string, Buffer>;

/** A Redis stream entry holds exactly this: one field per attribute, the payload as raw bytes. */
export function entryFields(entry: StreamEntry): FieldMap {
  return new Map(entry.fields.map(([name, value]) => [name, value]));
}

/** A Kafka message carries the attributes as headers, and an audio record's payload as its value. */
export function messageFields(message: TopicMessage): FieldMap {
  const map: FieldMap = new Map(Object.entries(message.headers).map(([name, value]) => [name, Buffer.from(value)]));
  if (message.headers.type === 'audio') map.set('payload', message.value);
  return map;
}

/** An in_memory record, laid out as the real backends lay it out. */
export function recordFields(record: IngestRecord): FieldMap {
  const map: FieldMap = new Map(recordAttributes(record).map(([name, value]) => [name, Buffer.from(value)]));
  if (record.type === 'audio') map.set('payload', record.payload);
  return map;
}

/** A field as text; fails the test when the record lacks it. */
export function field(record: FieldMap, name: string): string {
  const value = record.get(name);
  assert.ok(value !== undefined, `field ${name} missing from a ${record.get('type')?.toString()} record`);
  return value.toString('utf8');
}

/** An audio record's frame count and sizes, as frameSizesOf() reads them. */
export function frameSizeFields(record: FieldMap): FrameSizeSource {
  return {
    frames: field(record, 'frames'),
    frame_bytes: record.get('frame_bytes')?.toString('utf8'),
    frame_sizes: record.get('frame_sizes')?.toString('utf8'),
  };
}
