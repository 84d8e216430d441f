/**
 * --verify's arithmetic on hand-made records: found, missing (committed or
 * not), duplicated, out of order, corrupt and unreadable, with frames
 * deduplicated by seq whatever the record boundaries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopedAudioFrames, PatternFrames, type FrameSource } from '../../../src/client/loadgen/frame-content';
import { FrameVerifier } from '../../../src/client/loadgen/frame-verifier';

const FRAMES = new PatternFrames(320);

function audio(
  id: string,
  index: number,
  start: number,
  end: number,
  frames: FrameSource = FRAMES,
  alter?: (payload: Buffer) => void,
): Map<string, Buffer> {
  const parts: Buffer[] = [];
  for (let seq = start; seq <= end; seq++) parts.push(frames.frame(index, seq));
  const payload = Buffer.concat(parts);
  alter?.(payload);
  return new Map([
    ['type', Buffer.from('audio')],
    ['interaction_id', Buffer.from(id)],
    ['seq_start', Buffer.from(String(start))],
    ['seq_end', Buffer.from(String(end))],
    ['frames', Buffer.from(String(end - start + 1))],
    ['frame_bytes', Buffer.from(String(frames.frameBytes))],
    ['payload', payload],
  ]);
}

test('a committed frame missing from the backend is loss; one never committed is only missing', () => {
  const verifier = new FrameVerifier([{ interactionId: 'a', index: 0, sent: 30, committed: 20 }], FRAMES);
  verifier.add(audio('a', 0, 1, 9));
  verifier.add(audio('a', 0, 11, 25));
  assert.equal(verifier.complete, false);
  const s = verifier.summary();
  assert.deepEqual([s.frames_found, s.missing, s.missing_committed], [24, 6, 1]);
});

test('overlapping records are deduplicated by seq; a frame after a higher seq is out of order', () => {
  const verifier = new FrameVerifier([{ interactionId: 'b', index: 3, sent: 30, committed: 30 }], FRAMES);
  verifier.add(audio('b', 3, 1, 10));
  verifier.add(audio('b', 3, 21, 30));
  verifier.add(audio('b', 3, 5, 25));
  const s = verifier.summary();
  assert.equal(verifier.complete, true);
  assert.deepEqual([s.frames_found, s.duplicated, s.out_of_order, s.missing], [30, 11, 10, 0]);
});

test('altered bytes or another stream’s frame are corrupt, and the seq stays missing', () => {
  const verifier = new FrameVerifier(
    [
      { interactionId: 'c', index: 1, sent: 10, committed: 10 },
      { interactionId: 'd', index: 2, sent: 2, committed: null },
    ],
    FRAMES,
  );
  verifier.add(audio('c', 1, 1, 10, FRAMES, (payload) => (payload[5 * 320 + 100] ^= 1)));
  verifier.add(audio('d', 1, 1, 2)); // stream 1's bytes under stream 2's interaction
  const s = verifier.summary();
  assert.deepEqual([s.frames_found, s.corrupt, s.missing, s.missing_committed], [9, 3, 3, 1]);
});

test('records of other interactions are ignored; an audio record that cannot be cut into frames is unreadable', () => {
  const verifier = new FrameVerifier([{ interactionId: 'e', index: 0, sent: 5, committed: 5 }], FRAMES);
  verifier.add(audio('someone-else', 0, 1, 5));
  const short = audio('e', 0, 1, 5);
  short.set('payload', short.get('payload')!.subarray(1));
  verifier.add(short);
  verifier.add(
    new Map([
      ['type', Buffer.from('stream_started')],
      ['interaction_id', Buffer.from('e')],
    ]),
  );
  const s = verifier.summary();
  assert.deepEqual([s.records, s.unreadable, s.frames_found, s.missing_committed], [2, 1, 0, 5]);
});

test('looped WAV audio is checked byte for byte too, across the loop boundary', () => {
  const loop = new LoopedAudioFrames(Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff)), 320);
  const verifier = new FrameVerifier([{ interactionId: 'w', index: 4, sent: 8, committed: 8 }], loop);
  verifier.add(audio('w', 4, 1, 8, loop));
  assert.equal(verifier.summary().frames_found, 8);
  assert.ok(!loop.matches(loop.frame(4, 1), 5, 1), 'streams start at different points of the loop');
});

test("another run's frames under the same ids are foreign, not found: another nonce, or stored before the run", () => {
  const ours = new PatternFrames(320, 0xabc);
  const earlier = new PatternFrames(320, 0x123);
  assert.equal(ours.classify(earlier.frame(4, 7), 4, 7), 'foreign');
  assert.equal(ours.classify(ours.frame(4, 7), 4, 7), 'match');
  assert.equal(ours.classify(earlier.frame(4, 8), 4, 7), 'corrupt', 'another seq is not this frame of any run');
  const verifier = new FrameVerifier([{ interactionId: 'f', index: 4, sent: 10, committed: 10 }], ours);
  verifier.add(audio('f', 4, 1, 10, earlier)); // an earlier run with the same prefix
  verifier.add(audio('f', 4, 1, 6, ours), true); // this run's bytes (a WAV loop has no nonce), but stored before it
  verifier.add(audio('f', 4, 1, 5, ours));
  const s = verifier.summary();
  assert.deepEqual(
    [s.records, s.records_before_run, s.frames_found, s.foreign, s.missing, s.missing_committed, s.corrupt],
    [2, 1, 5, 16, 5, 5, 0],
  );
  assert.equal(s.duplicated, 0, "another run's copy is not a duplicate of this run's frame");
});
