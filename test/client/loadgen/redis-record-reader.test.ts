/**
 * The Redis read-back against the real Redis: entries stored before the run's
 * mark count as another run's (a reused --interaction-prefix), entries after
 * it are this run's, and a key that does not exist yet marks nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PatternFrames } from '../../../src/client/loadgen/frame-content';
import { FrameVerifier } from '../../../src/client/loadgen/frame-verifier';
import { markRedis, verifyFromRedis } from '../../../src/client/loadgen/redis-record-reader';
import { REDIS_URL, redisScratch } from '../../support/redis';

const FRAMES = new PatternFrames(320, 7);

function audioFields(id: string, start: number, end: number): string[] {
  const parts: Buffer[] = [];
  for (let seq = start; seq <= end; seq++) parts.push(FRAMES.frame(0, seq));
  return [
    ...['type', 'audio', 'interaction_id', id, 'seq_start', String(start), 'seq_end', String(end)],
    ...['frames', String(end - start + 1), 'frame_bytes', '320', 'payload', Buffer.concat(parts).toString('latin1')],
  ];
}

test('entries stored before the mark are counted as before the run, not found', async (t) => {
  const { admin, prefix } = redisScratch(t, 'lg-reader');
  const key = `${prefix}:audio`;
  assert.equal(await markRedis(REDIS_URL, key), undefined, 'an absent key marks nothing');
  const add = (fields: string[]): Promise<unknown> =>
    admin.xadd(key, '*', ...fields.map((f, i) => (i % 2 === 1 ? Buffer.from(f, 'latin1') : f)));
  await add(audioFields('reused-0', 1, 10)); // the earlier run, same interaction id and frames
  const mark = await markRedis(REDIS_URL, key);
  assert.ok(mark);
  await add(audioFields('reused-0', 1, 4));
  const verifier = new FrameVerifier([{ interactionId: 'reused-0', index: 0, sent: 10, committed: 10 }], FRAMES);
  await verifyFromRedis(REDIS_URL, key, verifier, 300, mark);
  const s = verifier.summary();
  assert.deepEqual([s.records, s.records_before_run, s.frames_found, s.foreign, s.missing_committed], [1, 1, 4, 10, 6]);
});
