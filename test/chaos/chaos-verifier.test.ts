/**
 * The chaos verifier's arithmetic, on hand-made records: it must see a loss
 * when there is one, or the chaos run proves nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FieldMap } from '../support/field-map';
import { chaosFrame } from './chaos-frames';
import { ChaosVerifier } from './chaos-verifier';
import { LoadClient } from './load-client';
import { SeededRandom } from './seeded-random';

function client(index: number, sent: number, committed: number): LoadClient {
  const c = new LoadClient({
    index,
    interactionId: `i-${index}`,
    url: 'ws://127.0.0.1:1/unused',
    token: 'unused',
    random: new SeededRandom(1),
  });
  c.highestSent = sent;
  c.committed = committed;
  return c;
}

function audio(index: number, start: number, end: number, alter?: (payload: Buffer) => void): FieldMap {
  const frames: Buffer[] = [];
  for (let seq = start; seq <= end; seq++) frames.push(chaosFrame(index, seq));
  const payload = Buffer.concat(frames);
  alter?.(payload);
  return new Map([
    ['type', Buffer.from('audio')],
    ['interaction_id', Buffer.from(`i-${index}`)],
    ['seq_start', Buffer.from(String(start))],
    ['seq_end', Buffer.from(String(end))],
    ['payload', payload],
  ]);
}

test('a committed frame missing from the backend is counted lost; one sent but never committed is not', () => {
  const verifier = new ChaosVerifier([client(0, 30, 20)]);
  verifier.add(audio(0, 1, 9));
  verifier.add(audio(0, 11, 25)); // 10 is committed and missing; 26-30 were never committed
  const [tally] = verifier.verdict().interactions;
  assert.equal(tally.found, 24);
  assert.equal(tally.lost, 1);
  assert.equal(tally.missingUnconfirmed, 5);
});

test('frames of overlapping records are deduplicated by seq, whatever the record boundaries', () => {
  const verifier = new ChaosVerifier([client(3, 30, 30)]);
  verifier.add(audio(3, 1, 20));
  verifier.add(audio(3, 11, 30)); // a resumed stream re-sent 11-20
  verifier.add(audio(3, 15, 16));
  const [tally] = verifier.verdict().interactions;
  assert.deepEqual([tally.found, tally.duplicated, tally.lost, tally.corrupt], [30, 12, 0, 0]);
});

test('a stored frame whose bytes differ from what was sent is corrupt, and its seq still counts as lost', () => {
  const verifier = new ChaosVerifier([client(1, 10, 10)]);
  verifier.add(audio(1, 1, 10, (payload) => (payload[5 * 320 + 100] ^= 1))); // one bit of frame 6
  const [tally] = verifier.verdict().interactions;
  assert.deepEqual([tally.found, tally.corrupt, tally.lost], [9, 1, 1]);
});

test("a frame of another stream in an interaction's record is corrupt, not found", () => {
  const verifier = new ChaosVerifier([client(1, 2, 2), client(2, 2, 2)]);
  const record = audio(1, 1, 2);
  record.set('payload', Buffer.concat([chaosFrame(1, 1), chaosFrame(2, 2)]));
  verifier.add(record);
  const tallies = verifier.verdict().interactions;
  assert.deepEqual([tallies[0].found, tallies[0].corrupt, tallies[0].lost], [1, 1, 1]);
});

test('a record whose payload is not whole frames, or of no stream of the run, is stray', () => {
  const verifier = new ChaosVerifier([client(0, 5, 5)]);
  verifier.add(audio(0, 1, 5, () => undefined));
  const short = audio(0, 1, 5);
  short.set('payload', short.get('payload')!.subarray(1));
  verifier.add(short);
  verifier.add(audio(9, 1, 1));
  const verdict = verifier.verdict();
  assert.equal(verdict.strayRecords, 2);
  assert.equal(verdict.interactions[0].lost, 0);
});

test('a frame stored after a higher seq of its interaction is counted out of order (a consumer would skip it)', () => {
  const verifier = new ChaosVerifier([client(0, 30, 30)]);
  verifier.add(audio(0, 1, 10));
  verifier.add(audio(0, 21, 30)); // a new session's record before the old session's 11-20
  verifier.add(audio(0, 11, 25));
  const [tally] = verifier.verdict().interactions;
  assert.deepEqual([tally.found, tally.duplicated, tally.outOfOrder, tally.lost], [30, 5, 10, 0]);
});

test("a record whose declared frame count or sizes disagree with its seqs is stray, and its frames don't count", () => {
  const verifier = new ChaosVerifier([client(0, 10, 10)]);
  const wrongCount = audio(0, 1, 10);
  wrongCount.set('frames', Buffer.from('9'));
  verifier.add(wrongCount);
  const verdict = verifier.verdict();
  assert.equal(verdict.strayRecords, 1);
  assert.equal(verdict.interactions[0].lost, 10);
});
