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
    'frame_bytes',
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

test('3 an audio record carries frame_bytes when its frames share one size, else frame_sizes as runs', () => {
  const records = builder();
  const buffer = new FrameBuffer();
  for (let seq = 1; seq <= 3; seq++) buffer.add(Buffer.alloc(320), seq, 0);
  const same = records.audio(buffer)!;
  assert.equal('frame_bytes' in same && same.frame_bytes, 320);
  assert.equal('frame_sizes' in same, false);
  const sizes = [320, 320, 160, 320, 7];
  sizes.forEach((bytes, i) => buffer.add(Buffer.alloc(bytes), 4 + i, 0));
  const mixed = records.audio(buffer)!;
  assert.equal('frame_sizes' in mixed && mixed.frame_sizes, '320x2,160,320,7');
  assert.equal('frame_bytes' in mixed, false);
  buffer.add(Buffer.alloc(7), 9, 0);
  const next = records.audio(buffer)!;
  assert.equal('frame_bytes' in next && next.frame_bytes, 7, 'the runs start afresh with each record');
});
