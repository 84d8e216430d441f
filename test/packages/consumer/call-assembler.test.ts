/**
 * Call assembly with plain records (packages/consumer/src/call-assembler.ts):
 * frames deduplicated by (sequence space, seq) whatever the record boundaries,
 * out-of-order frames put in place, gaps reported and filled, dtmf and mark
 * placed after the frames before them, and when a call counts as ended.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallAssembler, CallAssembly, parseRecord, type ConsumedRecord } from '../../../packages/consumer/src/index';

let position = 0;

/** A record as Redis would hold it: every attribute a string, the payload raw bytes. */
function record(fields: Record<string, string | number | Buffer>): ConsumedRecord {
  const map = new Map<string, Buffer | string>();
  const base = {
    tenant_id: 't',
    interaction_id: 'call-1',
    stream_id: 's1',
    source: 'native',
    received_at: '2026-01-01T00:00:00.000Z',
  };
  for (const [k, v] of Object.entries({ ...base, ...fields })) map.set(k, Buffer.isBuffer(v) ? v : String(v));
  return parseRecord(map, `1-${position++}`);
}

/** Frame `seq` of 4 bytes: its seq in every byte, so any misplacement shows. */
const frame = (seq: number): Buffer => Buffer.alloc(4, seq);

function audio(start: number, end: number, extra: Record<string, string> = {}): ConsumedRecord {
  const frames: Buffer[] = [];
  for (let s = start; s <= end; s++) frames.push(frame(s));
  return record({
    type: 'audio',
    seq_start: start,
    seq_end: end,
    frames: end - start + 1,
    encoding: 'pcm_s16le',
    sample_rate: 8000,
    channels: 1,
    frame_bytes: 4,
    payload: Buffer.concat(frames),
    ...extra,
  });
}

const started = (streamId = 's1', firstSeq = 1): ConsumedRecord =>
  record({
    type: 'stream_started',
    stream_id: streamId,
    encoding: 'pcm_s16le',
    sample_rate: 8000,
    channels: 1,
    first_seq: firstSeq,
    metadata: '{"agent":"a-1"}',
  });
const ended = (lastSeq: number, reason = 'stop', streamId = 's1'): ConsumedRecord =>
  record({ type: 'stream_ended', stream_id: streamId, last_seq: lastSeq, frames: lastSeq, reason });

const expected = (from: number, to: number): Buffer =>
  Buffer.concat(Array.from({ length: to - from + 1 }, (_, i) => frame(from + i)));

test('overlapping records with other boundaries and repeated records: each frame once, the copies counted', () => {
  const call = new CallAssembly('call-1');
  // A resume (s2 from seq 6) overlapping the first connection, and a record published twice.
  for (const r of [
    started(),
    audio(1, 5),
    audio(6, 8),
    ended(8, 'shutdown'),
    started('s2', 6),
    audio(6, 7, { stream_id: 's2' }),
    audio(8, 10, { stream_id: 's2' }),
    audio(8, 10, { stream_id: 's2' }),
    ended(10, 'stop', 's2'),
    ended(10, 'stop', 's2'),
  ])
    call.add(r);
  const result = call.assemble();
  assert.equal(result.tracks.length, 1);
  assert.deepEqual(result.tracks[0].audio, expected(1, 10));
  assert.equal(result.tracks[0].frames, 10);
  assert.equal(result.duplicate_frames, 2 + 1 + 3, '6-7 and 8 again from s2, then 8-10 repeated');
  assert.equal(result.duplicate_records, 3, 'two all-copy audio records and the repeated stream_ended');
  assert.deepEqual(result.gaps, []);
  assert.deepEqual(result.tracks[0].stream_ids, ['s1', 's2']);
  assert.deepEqual(result.tracks[0].end_reasons, ['shutdown', 'stop']);
  assert.equal(result.ended, true);
  assert.deepEqual(result.metadata.s1, { agent: 'a-1' });
});

test('a missing record is a gap: reported with its seqs and position, filled with silence unless asked not to', () => {
  const call = new CallAssembly('call-1');
  for (const r of [started(), audio(1, 3), audio(7, 8), ended(10)]) call.add(r);
  const filled = call.assemble();
  assert.deepEqual(filled.gaps, [
    { space: 'call-1', from_seq: 4, to_seq: 6, frames: 3, at_ms: 0.75, filled_ms: 0.75 },
    { space: 'call-1', from_seq: 9, to_seq: 10, frames: 2, at_ms: 2, filled_ms: 0.5 },
  ]);
  assert.equal(filled.missing_frames, 5);
  assert.deepEqual(
    filled.tracks[0].audio,
    Buffer.concat([expected(1, 3), Buffer.alloc(12), expected(7, 8), Buffer.alloc(8)]),
  );
  const bare = call.assemble({ fillGaps: false });
  assert.deepEqual(bare.tracks[0].audio, Buffer.concat([expected(1, 3), expected(7, 8)]));
  assert.equal(bare.gaps[0].filled_ms, 0);
});

test('frames that come after higher ones are put in their place and counted out of order', () => {
  const call = new CallAssembly('call-1');
  for (const r of [started(), audio(4, 6), audio(1, 3), ended(6)]) call.add(r);
  const result = call.assemble();
  assert.deepEqual(result.tracks[0].audio, expected(1, 6));
  assert.equal(result.out_of_order_frames, 3);
  assert.deepEqual(result.gaps, []);
});

test('dtmf and mark sit after the frames taken before them, with their time in the audio', () => {
  const call = new CallAssembly('call-1');
  const tel = { source: 'exotel', stream_id: 'MZ1' };
  call.add(
    record({ ...tel, type: 'stream_started', encoding: 'pcm_s16le', sample_rate: 8000, channels: 1, first_seq: 1 }),
  );
  call.add(record({ ...tel, type: 'dtmf', digit: '5', duration_ms: 80 }));
  call.add(audio(1, 4, tel));
  call.add(record({ ...tel, type: 'mark', name: 'beep' }));
  call.add(record({ ...tel, type: 'mark', name: 'beep' }));
  call.add(record({ ...tel, type: 'stream_ended', last_seq: 4, frames: 4, reason: 'stop:callended' }));
  const result = call.assemble();
  assert.deepEqual(
    result.events.map((e) => [e.type, e.digit ?? e.name, e.after_seq, e.at_ms]),
    [
      ['dtmf', '5', 0, 0],
      ['mark', 'beep', 4, 1],
    ],
  );
  assert.equal(result.events[0].duration_ms, 80);
  assert.equal(result.duplicate_records, 1);
  assert.equal(result.ended, true, 'a telephony stream never resumes: any end is final');
});

test('a native stream that ended by shutdown may resume: not ended until a final reason', () => {
  const call = new CallAssembly('call-1');
  call.add(started());
  call.add(audio(1, 2));
  call.add(ended(2, 'shutdown'));
  assert.equal(call.ended, false);
  assert.equal(call.quiet, true);
  call.add(started('s2', 3));
  assert.equal(call.quiet, false);
  call.add(ended(2, 'idle_timeout', 's2'));
  assert.equal(call.ended, true);
});

test('telephony tracks are their own sequence spaces: inbound first, outbound second', () => {
  const call = new CallAssembly('CA1');
  const out = { source: 'twilio', stream_id: 'MZ1:outbound', encoding: 'mulaw' };
  const inb = { source: 'twilio', stream_id: 'MZ1:inbound', encoding: 'mulaw' };
  call.add(audio(1, 2, out));
  call.add(audio(1, 2, inb));
  const result = call.assemble();
  assert.deepEqual(
    result.tracks.map((t) => [t.track, t.frames]),
    [
      ['inbound', 2],
      ['outbound', 2],
    ],
  );
  assert.equal(result.duplicate_frames, 0, 'the same seq on two tracks is no duplicate');
});

test('a written call is remembered: a record that repeats it is dropped, one with new frames starts a part', () => {
  const assembler = new CallAssembler();
  const first = [started(), audio(1, 5), ended(5, 'shutdown')].map((r) => assembler.add(r))[0]!;
  assembler.take(first);
  assert.equal(assembler.add(audio(2, 4)), undefined, 'frames already written: a late copy');
  assert.equal(assembler.add(ended(5, 'shutdown')), undefined);
  assert.equal(assembler.repeated, 2);
  assert.deepEqual(assembler.open(), []);
  const resumed = assembler.add(started('s2', 6));
  assert.ok(resumed, 'a resume after the call was written starts it again');
  assembler.add(audio(6, 8, { stream_id: 's2' }));
  assert.deepEqual(resumed.assemble().tracks[0].audio, expected(6, 8));
});

test('a call whose start was not read says so; a telephony stream known to start at 1 has a leading gap', () => {
  const native = new CallAssembly('call-1');
  native.add(audio(40, 42));
  const n = native.assemble();
  assert.equal(n.start_read, false);
  assert.deepEqual(n.gaps, [], 'a native client chooses its first seq: no gap is invented');
  const read = new CallAssembly('call-1');
  for (const r of [started('s1', 40), audio(40, 42)]) read.add(r);
  assert.equal(read.assemble().start_read, true);

  const exotel = new CallAssembly('CA1');
  exotel.add(audio(5, 6, { source: 'exotel', stream_id: 'MZ1' }));
  const e = exotel.assemble();
  assert.equal(e.start_read, false);
  assert.deepEqual(
    e.gaps.map((g) => [g.from_seq, g.to_seq, g.leading]),
    [[1, 4, true]],
  );
});
