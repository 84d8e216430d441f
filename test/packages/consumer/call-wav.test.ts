/**
 * A call's WAV layout (packages/consumer/src/call-wav.ts): Twilio's inbound and
 * outbound tracks of one streamSid pair as stereo; streams that follow each
 * other are joined one after the other; a stream that overlaps them gets a
 * file of its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CallAssembly,
  callWavLayout,
  parseRecord,
  streamsWav,
  type ConsumedRecord,
} from '../../../packages/consumer/src/index';
import { parseWav } from '../../../src/client/loadgen/wav-file';

let position = 0;

function record(fields: Record<string, string | number | Buffer>): ConsumedRecord {
  const map = new Map<string, Buffer | string>();
  const base = { tenant_id: 't', interaction_id: 'CA1', received_at: '2026-01-01T00:00:00.000Z' };
  for (const [k, v] of Object.entries({ ...base, ...fields })) map.set(k, Buffer.isBuffer(v) ? v : String(v));
  return parseRecord(map, `1-${position++}`);
}

/** A whole telephony stream of `frames` 2-byte PCM frames filled with `fill`, between two times. */
function stream(source: string, id: string, frames: number, fill: number, from: string, to: string): ConsumedRecord[] {
  const common = { source, stream_id: id };
  const media = { encoding: 'pcm_s16le', sample_rate: 8000, channels: 1 };
  return [
    record({ ...common, ...media, type: 'stream_started', first_seq: 1, received_at: from }),
    record({
      ...common,
      ...media,
      type: 'audio',
      seq_start: 1,
      seq_end: frames,
      frames,
      frame_bytes: 2,
      payload: Buffer.alloc(frames * 2, fill),
      received_at: from,
    }),
    record({ ...common, type: 'stream_ended', last_seq: frames, frames, reason: 'stop', received_at: to }),
  ];
}

const T = (s: number): string => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000Z`;

test('two Exotel streams one after the other are joined in order, not overlaid as channels', () => {
  const call = new CallAssembly('CA1');
  for (const r of [...stream('exotel', 'S2', 2, 0x22, T(20), T(30)), ...stream('exotel', 'S1', 3, 0x11, T(0), T(10))])
    call.add(r);
  const layout = callWavLayout(call.assemble());
  assert.deepEqual(
    layout.main.map((s) => s.stream),
    ['S1', 'S2'],
    'in stream_started order',
  );
  assert.deepEqual(layout.separate, []);
  const { wav, placed } = streamsWav(layout.main);
  const audio = parseWav(wav);
  assert.equal(audio.channels, 1);
  assert.deepEqual(audio.data, Buffer.concat([Buffer.alloc(6, 0x11), Buffer.alloc(4, 0x22)]));
  assert.deepEqual(
    placed.map((p) => [p.stream, p.offset_ms]),
    [
      ['S1', 0],
      ['S2', 0.375],
    ],
  );
});

test('Twilio: tracks pair by streamSid; a second streamSid that overlaps the first gets its own file', () => {
  const call = new CallAssembly('CA1');
  for (const r of [
    ...stream('twilio', 'MZ1:inbound', 2, 0x01, T(0), T(10)),
    ...stream('twilio', 'MZ1:outbound', 2, 0x02, T(0), T(10)),
    ...stream('twilio', 'MZ2:inbound', 2, 0x03, T(5), T(15)),
    ...stream('twilio', 'MZ2:outbound', 2, 0x04, T(5), T(15)),
  ])
    call.add(r);
  const layout = callWavLayout(call.assemble());
  assert.deepEqual(
    layout.main.map((s) => s.stream),
    ['MZ1'],
  );
  assert.deepEqual(
    layout.separate.map((s) => [s.stream, s.number]),
    [['MZ2', 2]],
  );
  const main = parseWav(streamsWav(layout.main).wav);
  assert.equal(main.channels, 2, 'one stream: inbound and outbound, never four channels');
  assert.deepEqual(main.data, Buffer.from([1, 1, 2, 2, 1, 1, 2, 2]));
  assert.equal(parseWav(streamsWav(layout.separate).wav).channels, 2);
});
