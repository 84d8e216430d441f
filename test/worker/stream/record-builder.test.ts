/**
 * The records a stream publishes: adapters write a record's fields in its key
 * order (Redis stream fields, Kafka headers), so the order is what consumers see.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameBuffer } from '../../../src/worker/stream/frame-buffer';
import { RecordBuilder } from '../../../src/worker/stream/record-builder';

const IDS = { tenant_id: 't', interaction_id: 'i', stream_id: 's', source: 'native' } as const;
const BASE_KEYS = ['type', 'tenant_id', 'interaction_id', 'stream_id', 'source', 'received_at'];
const MEDIA_KEYS = ['encoding', 'sample_rate', 'channels'];

function builder(): RecordBuilder {
  return new RecordBuilder(IDS, { encoding: 'mulaw', sample_rate: 8000, channels: 1 });
}

test('3 every record keeps its field order: the common fields first, then its own, payload last', () => {
  const records = builder();
  const buffer = new FrameBuffer();
  buffer.add(Buffer.from([1]), 7, 0);
  assert.deepEqual(Object.keys(records.started(7, {})), [...BASE_KEYS, ...MEDIA_KEYS, 'first_seq', 'metadata']);
  assert.deepEqual(Object.keys(records.audio(buffer)!), [
    ...BASE_KEYS,
    'seq_start',
    'seq_end',
    'frames',
    ...MEDIA_KEYS,
    'payload',
  ]);
  assert.deepEqual(Object.keys(records.ended(7, 1, 'stop')), [...BASE_KEYS, 'last_seq', 'frames', 'reason']);
  const mark = records.event((base) => ({ type: 'mark', ...base, name: 'm' }));
  assert.deepEqual(Object.keys(mark), [...BASE_KEYS, 'name']);
});

test('2 an audio record takes every buffered frame, received when the oldest arrived, and empties the buffer', () => {
  const records = builder();
  const buffer = new FrameBuffer();
  assert.equal(records.audio(buffer), undefined, 'an empty buffer makes no record');
  buffer.add(Buffer.from([1, 2]), 5, Date.parse('2024-05-01T10:00:00.000Z'));
  buffer.add(Buffer.from([3]), 6, Date.parse('2024-05-01T10:00:00.040Z'));
  const audio = records.audio(buffer)!;
  assert.deepEqual(
    [audio.seq_start, audio.seq_end, audio.frames, audio.received_at],
    [5, 6, 2, '2024-05-01T10:00:00.000Z'],
  );
  assert.deepEqual([...audio.payload], [1, 2, 3]);
  assert.deepEqual([buffer.count, buffer.bytes], [0, 0]);
  assert.equal(records.audio(buffer), undefined);
});
