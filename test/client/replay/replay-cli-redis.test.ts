/**
 * The built `ingest-replay` against the real Redis with records written into
 * the stream as the service writes them (explicit entry ids set their times):
 * usage errors (exit 2) and a password never shown; a key that is not a
 * stream or does not exist; --since/--until on the entry times, a call cut by
 * --since marked start_read=no; a consumer group that meets a call in progress
 * leaves it pending and writes it whole in the next run once it has ended.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import type Redis from 'ioredis';
import { REDIS_URL, redisScratch } from '../../support/redis';
import { readCallWav, readSidecar, runReplay } from './replay-cli-run';

const frame = (seq: number): Buffer => Buffer.alloc(320, seq % 256);
const frames = (from: number, to: number): Buffer =>
  Buffer.concat(Array.from({ length: to - from + 1 }, (_, i) => frame(from + i)));

/** Adds one record of a native call at entry time `ms` (ms since the epoch). */
async function add(redis: Redis, key: string, ms: number, fields: Record<string, string | Buffer>): Promise<void> {
  const base = {
    tenant_id: 'tenant-a',
    stream_id: `${String(fields.interaction_id)}-s1`,
    source: 'native',
    received_at: new Date(ms).toISOString(),
  };
  await redis.xadd(key, `${ms}-*`, ...Object.entries({ ...base, ...fields }).flat());
}

const media = { encoding: 'pcm_s16le', sample_rate: '8000', channels: '1' };
const started = (id: string): Record<string, string> => ({
  interaction_id: id,
  type: 'stream_started',
  ...media,
  first_seq: '1',
  metadata: '{}',
});
const audio = (id: string, from: number, to: number): Record<string, string | Buffer> => ({
  interaction_id: id,
  type: 'audio',
  seq_start: String(from),
  seq_end: String(to),
  frames: String(to - from + 1),
  ...media,
  frame_bytes: '320',
  payload: frames(from, to),
});
const ended = (id: string, last: number, reason = 'stop'): Record<string, string> => ({
  interaction_id: id,
  type: 'stream_ended',
  last_seq: String(last),
  frames: String(last),
  reason,
});

test('usage errors exit 2 naming the flags; a password in --from is never printed', { timeout: 30_000 }, async (t) => {
  const usage = await runReplay(t, ['--from', REDIS_URL, '--key', 'k', '--group', 'g', '--since', '2026-03-01']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--since "2026-03-01" is not an ISO-8601 time/);
  assert.match(usage.stderr, /--group with --since/);
  const follow = await runReplay(t, ['--from', REDIS_URL, '--key', 'k', '--follow', '--until', '2026-03-01T00:00Z']);
  assert.equal(follow.code, 2);
  assert.match(follow.stderr, /--follow and --until/);
  const unreachable = await runReplay(t, ['--from', 'redis://user:s3cret@127.0.0.1:1', '--key', 'k']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  assert.doesNotMatch(unreachable.stderr + unreachable.stdout, /s3cret/);
});

test(
  'a key that is not a stream is exit 1; a key that does not exist is exit 0, nothing matched',
  { timeout: 30_000 },
  async (t) => {
    const { admin, prefix } = redisScratch(t, 'replay-keys');
    await admin.set(`${prefix}:string`, 'x');
    const wrong = await runReplay(t, ['--from', REDIS_URL, '--key', `${prefix}:string`]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /holds a string, not a stream: check --key/);
    const missing = await runReplay(t, ['--from', REDIS_URL, '--key', `${prefix}:missing`]);
    assert.equal(missing.code, 0, missing.stderr);
    assert.match(missing.stderr, /nothing matched: Redis key .*:missing does not exist/);
  },
);

test(
  '--since/--until select by entry time; a call cut by --since says its start was not read',
  { timeout: 30_000 },
  async (t) => {
    const { admin, prefix } = redisScratch(t, 'replay-range');
    const key = `${prefix}:audio`;
    const t0 = Date.parse('2026-03-01T09:00:00Z');
    await add(admin, key, t0, started('early'));
    await add(admin, key, t0 + 1000, audio('early', 1, 5));
    await add(admin, key, t0 + 2000, started('cut'));
    await add(admin, key, t0 + 3000, audio('cut', 1, 5));
    await add(admin, key, t0 + 61_000, audio('cut', 6, 10));
    await add(admin, key, t0 + 61_500, ended('cut', 10));
    await add(admin, key, t0 + 62_000, ended('early', 5));
    await add(admin, key, t0 + 120_000, started('late'));
    const since = new Date(t0 + 60_000).toISOString();
    const until = new Date(t0 + 62_000).toISOString();
    const run = await runReplay(t, ['--from', REDIS_URL, '--key', key, '--since', since, '--until', until]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      run.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
      ['cut'],
      'only what was stored in [since, until)',
    );
    assert.equal(run.line('cut').start_read, 'no');
    assert.equal(run.line('cut').ended, 'yes');
    assert.equal(readSidecar(run.out, 'cut').start_read, false);
    assert.ok(readCallWav(run.out, 'cut').data.equals(frames(6, 10)));
  },
);

test(
  'a group run leaves a call in progress pending; the next run writes it whole once it has ended',
  { timeout: 30_000 },
  async (t) => {
    const { admin, prefix } = redisScratch(t, 'replay-open');
    const key = `${prefix}:audio`;
    const now = Date.now();
    await add(admin, key, now, started('done'));
    await add(admin, key, now, started('live'));
    await add(admin, key, now, audio('live', 1, 4));
    await add(admin, key, now, audio('done', 1, 3));
    await add(admin, key, now, ended('done', 3));
    const args = ['--from', REDIS_URL, '--key', key, '--group', 'archive'];
    const first = await runReplay(t, args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      first.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
      ['done'],
    );
    assert.match(first.stderr, /1 calls still in progress were left open/);
    const [pending] = (await admin.xpending(key, 'archive')) as [number];
    assert.equal(pending, 2, "the live call's two entries stay pending");

    await add(admin, key, Date.now(), audio('live', 5, 6));
    await add(admin, key, Date.now(), ended('live', 6));
    const second = await runReplay(t, args);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(
      second.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
      ['live'],
    );
    assert.equal(second.line('live').frames, '6', 'the pending entries were read again: the call is whole');
    assert.ok(readCallWav(second.out, 'live').data.equals(frames(1, 6)));
    const [left] = (await admin.xpending(key, 'archive')) as [number];
    assert.equal(left, 0);
    assert.deepEqual(readdirSync(second.out).sort(), ['live.json', 'live.wav']);
  },
);
