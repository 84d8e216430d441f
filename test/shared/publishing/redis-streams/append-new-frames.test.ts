/**
 * REDIS_DEDUPLICATE (the default): the redis_streams adapter stores each audio
 * frame at most once per sequence space, whatever the record boundaries, the
 * retries or the number of publishers; plain XADD mode still stores what it is
 * given. Real Redis throughout: the shared one for the stream behaviour, a
 * private one for SCRIPT FLUSH and a restart.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type Redis from 'ioredis';
import { FrameSizeRuns } from '../../../../src/shared/publishing/frame-sizes';
import { splitFrames } from '../../../../packages/consumer/src/frame-sizes';
import type { AudioRecord, RecordBase } from '../../../../src/shared/publishing/records';
import { APPEND_NEW_FRAMES_LUA } from '../../../../src/shared/publishing/redis-streams/append-new-frames-script';
import { lastSeqKeyFor } from '../../../../src/shared/publishing/redis-streams/last-seq-key';
import type { RedisStreamsPublisher } from '../../../../src/shared/publishing/redis-streams/redis-streams-publisher';
import { startPrivateRedis } from '../../../support/private-redis-server';
import { isPublishError, stateIs, waitForHealth } from '../../../support/publisher-checks';
import { publisherFor, readStream, redisScratch, startTcpProxy } from '../../../support/redis';
import { recordBase } from '../../../support/sample-records';

/** The bytes of frame `seq`: the same whichever record or connection carries it, as a resuming client sends. */
function frameBytes(seq: number, size: number): Buffer {
  return Buffer.alloc(size, seq % 251);
}

/** An audio record of the frames `seqStart`.., one per size given, on `stream`'s interaction. */
function framesRecord(stream: RecordBase, seqStart: number, sizes: readonly number[]): AudioRecord {
  const runs = new FrameSizeRuns();
  for (const size of sizes) runs.add(size);
  return {
    ...stream,
    type: 'audio',
    seq_start: seqStart,
    seq_end: seqStart + sizes.length - 1,
    frames: sizes.length,
    encoding: 'pcm_s16le',
    sample_rate: 8000,
    channels: 1,
    ...runs.take(),
    payload: Buffer.concat(sizes.map((size, i) => frameBytes(seqStart + i, size))),
  };
}

/** A record of frames `from`..`to`, each of the size `sizeOf(seq)` gives. */
function rangeRecord(stream: RecordBase, from: number, to: number, sizeOf: (seq: number) => number): AudioRecord {
  return framesRecord(
    stream,
    from,
    Array.from({ length: to - from + 1 }, (_, i) => sizeOf(from + i)),
  );
}

interface StoredAudio {
  readonly fields: Readonly<Record<string, string>>;
  /** [seq, bytes] of each frame, cut with the entry's own frame_bytes / frame_sizes. */
  readonly frames: ReadonlyArray<readonly [number, Buffer]>;
}

/** The audio entries of a stream, each checked for consistency (frames, seq_end) and cut into frames. */
async function storedAudio(admin: Redis, key: string): Promise<StoredAudio[]> {
  const out: StoredAudio[] = [];
  for (const entry of await readStream(admin, key)) {
    const raw = new Map(entry.fields);
    const fields: Record<string, string> = {};
    for (const [name, value] of raw) if (name !== 'payload') fields[name] = value.toString('utf8');
    if (fields.type !== 'audio') continue;
    const start = Number(fields.seq_start);
    assert.equal(Number(fields.seq_end) - start + 1, Number(fields.frames), `frames of ${JSON.stringify(fields)}`);
    const cut = splitFrames(fields as unknown as { frames: string }, raw.get('payload')!);
    out.push({ fields, frames: cut.map((bytes, i) => [start + i, bytes] as const) });
  }
  return out;
}

/** Every stored frame of the stream is frame 1..last exactly once, in order, byte-exact. */
function assertEveryFrameOnce(stored: readonly StoredAudio[], last: number, sizeOf: (seq: number) => number): void {
  const frames = stored.flatMap((s) => s.frames);
  assert.deepEqual(
    frames.map(([seq]) => seq),
    Array.from({ length: last }, (_, i) => i + 1),
  );
  for (const [seq, bytes] of frames) assert.ok(bytes.equals(frameBytes(seq, sizeOf(seq))), `frame ${seq} differs`);
}

const EVEN = (): number => 320;
const APPEND_NEW_FRAMES_SHA = createHash('sha1').update(APPEND_NEW_FRAMES_LUA).digest('hex');

test('a record published again (a retry after a lost reply) is stored once, and the retry succeeds', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-retry');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s` });
  await publisher.start();
  const stream = recordBase('acme');
  const record = rangeRecord(stream, 1, 10, EVEN);
  await publisher.publish(record);
  await publisher.publish(record);
  await publisher.publish(rangeRecord(stream, 11, 20, EVEN));
  await publisher.publish(rangeRecord(stream, 11, 20, EVEN));
  const stored = await storedAudio(admin, `${prefix}:s`);
  assert.equal(stored.length, 2);
  assertEveryFrameOnce(stored, 20, EVEN);
});

test('a publish whose reply never came (command timeout) and its retry store the record once', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-timeout');
  const proxy = await startTcpProxy(t);
  const publisher = publisherFor(t, { url: proxy.url, streamKey: `${prefix}:s`, commandTimeoutMs: 300 });
  await publisher.start();
  const record = rangeRecord(recordBase('acme'), 1, 10, EVEN);
  proxy.stall();
  await assert.rejects(publisher.publish(record), isPublishError(true));
  proxy.unstall(); // the timed-out command reaches Redis after all
  await publisher.publish(record);
  const stored = await storedAudio(admin, `${prefix}:s`);
  assert.equal(stored.length, 1);
  assertEveryFrameOnce(stored, 10, EVEN);
});

test('records that overlap with other boundaries store only the frames beyond the last stored seq', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-overlap');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s` });
  await publisher.start();
  const stream = recordBase('acme');
  await publisher.publish(rangeRecord(stream, 1, 10, EVEN));
  await publisher.publish(rangeRecord(stream, 6, 15, EVEN)); // frames 11-15 are new
  await publisher.publish(rangeRecord(stream, 3, 12, EVEN)); // nothing new
  await publisher.publish(rangeRecord(stream, 15, 15, EVEN)); // nothing new
  await publisher.publish(rangeRecord(stream, 16, 17, EVEN));
  const stored = await storedAudio(admin, `${prefix}:s`);
  assert.deepEqual(
    stored.map((s) => [s.fields.seq_start, s.fields.seq_end, s.fields.frames, s.fields.frame_bytes]),
    [
      ['1', '10', '10', '320'],
      ['11', '15', '5', '320'],
      ['16', '17', '2', '320'],
    ],
  );
  assertEveryFrameOnce(stored, 17, EVEN);
  // Everything but the rewritten fields is the record's own, in the record's field order.
  const sent = rangeRecord(stream, 6, 15, EVEN);
  const { fields } = stored[1];
  assert.deepEqual(
    Object.keys(fields),
    Object.keys(sent).filter((k) => k !== 'payload'),
  );
  const { payload: _payload, ...attributes } = sent;
  const expected = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, String(v)]));
  assert.deepEqual(fields, { ...expected, seq_start: '11', frames: '5' });
});

test('a cut through frame_sizes rewrites the runs kept, or frame_bytes when one size is left', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-sizes');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s` });
  await publisher.start();
  const stream = recordBase('acme');
  const sizes = [320, 320, 160, 80, 80, 80, 320, 320, 200, 200, 120, 320];
  const sizeOf = (seq: number): number => sizes[seq - 1];
  await publisher.publish(rangeRecord(stream, 1, 4, sizeOf)); // 320x2,160,80
  await publisher.publish(rangeRecord(stream, 3, 8, sizeOf)); // keeps 5-8: 80x2,320x2
  await publisher.publish(rangeRecord(stream, 8, 10, sizeOf)); // keeps 9-10: one size left
  await publisher.publish(rangeRecord(stream, 10, 11, sizeOf)); // keeps 11: a single frame
  await publisher.publish(rangeRecord(stream, 9, 12, sizeOf)); // keeps 12
  const stored = await storedAudio(admin, `${prefix}:s`);
  assert.deepEqual(
    stored.map((s) => [s.fields.seq_start, s.fields.frames, s.fields.frame_sizes ?? `bytes ${s.fields.frame_bytes}`]),
    [
      ['1', '4', '320x2,160,80'],
      ['5', '4', '80x2,320x2'],
      ['9', '2', 'bytes 200'],
      ['11', '1', 'bytes 120'],
      ['12', '1', 'bytes 320'],
    ],
  );
  assertEveryFrameOnce(stored, 12, sizeOf);
});

test('seqs beyond 10^14 are rewritten in decimal', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-large');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s` });
  await publisher.start();
  const stream = recordBase('acme');
  const base = 2 ** 52;
  await publisher.publish(rangeRecord(stream, base, base + 9, EVEN));
  await publisher.publish(rangeRecord(stream, base + 5, base + 14, EVEN));
  const stored = await storedAudio(admin, `${prefix}:s`);
  assert.deepEqual(
    stored.map((s) => [s.fields.seq_start, s.fields.seq_end, s.fields.frames]),
    [
      [String(base), String(base + 9), '10'],
      [String(base + 10), String(base + 14), '5'],
    ],
  );
});

test('two publishers of one interaction with different boundaries store every frame once', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-two');
  const first = publisherFor(t, { streamKey: `${prefix}:s` });
  const second = publisherFor(t, { streamKey: `${prefix}:s` });
  await Promise.all([first.start(), second.start()]);
  const interaction = { interaction_id: `call-${randomUUID()}` };
  const sizeOf = (seq: number): number => (seq % 7 === 0 ? 160 : 320);
  const last = 600;
  // Each publisher goes through every frame in order (the caller's contract), both at once.
  const run = async (publisher: RedisStreamsPublisher, size: number): Promise<void> => {
    const stream = { ...recordBase('acme'), ...interaction };
    for (let from = 1; from <= last; from += size) {
      await publisher.publish(rangeRecord(stream, from, Math.min(last, from + size - 1), sizeOf));
    }
  };
  await Promise.all([run(first, 10), run(second, 7), run(first, 13)]);
  assertEveryFrameOnce(await storedAudio(admin, `${prefix}:s`), last, sizeOf);
});

test('telephony streams of one call (Twilio tracks) each keep their own sequence', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-tracks');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s` });
  await publisher.start();
  const call = { interaction_id: 'CA-call', source: 'twilio' as const };
  const inbound = { ...recordBase('acme'), ...call, stream_id: 'MZ-stream:inbound' };
  const outbound = { ...recordBase('acme'), ...call, stream_id: 'MZ-stream:outbound' };
  await publisher.publish(rangeRecord(inbound, 1, 10, EVEN));
  await publisher.publish(rangeRecord(outbound, 1, 10, EVEN));
  await publisher.publish(rangeRecord(inbound, 1, 10, EVEN));
  const stored = await storedAudio(admin, `${prefix}:s`);
  assert.deepEqual(
    stored.map((s) => s.fields.stream_id),
    ['MZ-stream:inbound', 'MZ-stream:outbound'],
  );
});

test('the last-seq key expires after REDIS_DEDUP_TTL_SECONDS, renewed by each append and each skip', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-ttl');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s`, dedupTtlSeconds: 300 });
  await publisher.start();
  const stream = recordBase('acme');
  await publisher.publish(rangeRecord(stream, 1, 10, EVEN));
  const [seqKey] = (await admin.keys(`*${prefix}*last_seq*`)) as [string];
  // The key the script wrote is the one whose slot hash-slot.test.ts checks.
  assert.equal(seqKey, lastSeqKeyFor(`${prefix}:s`, rangeRecord(stream, 1, 10, EVEN)));
  assert.equal(await admin.get(seqKey), '10');
  const ttl = await admin.ttl(seqKey);
  assert.ok(ttl > 290 && ttl <= 300, `TTL ${ttl}`);
  await admin.expire(seqKey, 5);
  await publisher.publish(rangeRecord(stream, 11, 20, EVEN));
  assert.ok((await admin.ttl(seqKey)) > 290, 'the append renewed the expiry');
  assert.equal(await admin.get(seqKey), '20');
  // A duplicate appends nothing, but renews the expiry: the write a WAIT after it waits for.
  await admin.expire(seqKey, 5);
  await publisher.publish(rangeRecord(stream, 11, 20, EVEN));
  assert.ok((await admin.ttl(seqKey)) > 290, 'the skip renewed the expiry');
  assert.equal(await admin.get(seqKey), '20');
  // Once the key is gone (expired), the sequence space starts afresh.
  await admin.del(seqKey);
  await publisher.publish(rangeRecord(stream, 11, 20, EVEN));
  assert.equal((await storedAudio(admin, `${prefix}:s`)).length, 3);
});

test('REDIS_DEDUPLICATE=false publishes a plain XADD per record: duplicates are stored', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-off');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s`, deduplicate: false });
  await publisher.start();
  const stream = recordBase('acme');
  await publisher.publish(rangeRecord(stream, 1, 10, EVEN));
  await publisher.publish(rangeRecord(stream, 1, 10, EVEN));
  await publisher.publish(rangeRecord(stream, 6, 15, EVEN));
  const stored = await storedAudio(admin, `${prefix}:s`);
  assert.deepEqual(
    stored.map((s) => s.fields.seq_start),
    ['1', '1', '6'],
  );
  assert.deepEqual(await admin.keys(`*${prefix}*last_seq*`), []);
});

test('REDIS_STREAM_MAXLEN still caps the stream through the script', async (t) => {
  const { admin, prefix } = redisScratch(t, 'dedup-maxlen');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s`, maxlen: 10 });
  await publisher.start();
  const stream = recordBase('acme');
  for (let i = 0; i < 1000; i++) await publisher.publish(rangeRecord(stream, i + 1, i + 1, () => 1));
  const length = await admin.xlen(`${prefix}:s`);
  assert.ok(length >= 10 && length < 500, `XLEN ${length} should be near 10, far below 1000`);
});

test('the script survives SCRIPT FLUSH and a Redis restart (NOSCRIPT is answered by loading it again)', async (t) => {
  const server = await startPrivateRedis(t);
  const publisher = publisherFor(t, { url: server.url, streamKey: 'flush' });
  await publisher.start();
  const streams = Array.from({ length: 20 }, () => recordBase('acme'));
  const publishAll = (from: number): Promise<void[]> =>
    Promise.all(streams.map((stream) => publisher.publish(rangeRecord(stream, from, from + 9, EVEN))));
  await publishAll(1);
  await server.admin.script('FLUSH');
  await publishAll(11); // auto-pipelined: 20 EVALSHAs answered NOSCRIPT at once
  await publishAll(11);
  // The premise: EVALSHA was refused (NOSCRIPT), and the script was sent again.
  const stats = await server.admin.info('commandstats');
  assert.match(stats, /^cmdstat_evalsha:.*failed_calls=[1-9]/m);
  assert.equal(await server.admin.script('EXISTS', APPEND_NEW_FRAMES_SHA).then((r) => String(r)), '1');
  for (const stream of streams) {
    const mine = (await storedAudio(server.admin, 'flush')).filter((s) => s.fields.stream_id === stream.stream_id);
    assert.deepEqual(
      mine.map((s) => s.fields.seq_start),
      ['1', '11'],
    );
  }
  await server.kill();
  await waitForHealth(publisher, stateIs('down'), 'down');
  await server.restart();
  await waitForHealth(publisher, stateIs('up'), 'up', 20_000);
  await publishAll(21);
  for (const stream of streams) {
    const mine = (await storedAudio(server.admin, 'flush')).filter((s) => s.fields.stream_id === stream.stream_id);
    // The restart lost what the server had not saved: only the records after it are there.
    assert.deepEqual(
      mine.map((s) => s.fields.seq_start),
      ['21'],
    );
  }
});
