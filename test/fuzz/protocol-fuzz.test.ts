/**
 * Hostile input at volume (issue 10): a seeded fuzzer plays thousands of
 * generated and mutated messages in the native, Exotel and Twilio dialects,
 * broken WebSocket framing and broken HTTP upgrades on raw sockets, and
 * slow upgrades that never finish, against the built service in cluster
 * mode (WORKERS=2, Redis Streams), while well-behaved streams run on the same
 * workers. Every case must end as the contract says; no worker may die; the
 * well-behaved streams must lose and reorder nothing.
 *
 * The seed is printed; FUZZ_SEED=<seed> replays a run case for case.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { readyWorkerPids } from '../support/cluster';
import { readStream } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';
import { scrapeMetrics } from '../support/prometheus';
import { byInteraction, assertAudioCovers } from '../support/stream-check';
import { endAllowed, type MessageCase } from './fuzz-case';
import { fuzzSeed } from './fuzz-random';
import { generateCases, MAX_FRAME_BYTES } from './fuzz-plan';
import { playMessageCase } from './message-case-runner';
import { playFrameCase, playHttpCase, startSlowUpgrade } from './raw-socket-runner';
import { runSteadyStream } from './steady-stream';

const ACK_INTERVAL = 10;
const MIN_MESSAGES = 10_000;
const CONCURRENCY = 48;
const STEADY_STREAMS = 8;
const SLOW_UPGRADES = 50;
/** Per case: generous, for 2 cores shared with other work. */
const CASE_DEADLINE_MS = 30_000;
const EXOTEL = { user: 'fuzz-exotel', password: 'pw:fuzz' };
const TWILIO_TOKEN = 'fuzz0123456789abcdef0123456789ab';
const TWILIO_URL = 'wss://ingest.example.com/v1/twilio';

/** Runs `work` over `items`, `limit` at a time. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i], i);
      }
    }),
  );
}

test(
  'hostile input at volume: every fuzzed message, frame and upgrade ends in its documented close code or status, ' +
    'no worker dies, and well-behaved streams on the same workers lose and reorder nothing',
  { timeout: 240_000 },
  async (t) => {
    const seed = fuzzSeed();
    t.diagnostic(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    console.log(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const began = Date.now();
    const setup = await startRedisCluster(t, 'fuzz', {
      MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
      ACK_INTERVAL: String(ACK_INTERVAL),
      BUFFER_DURATION_MS: '200',
      SUPPORT_EXOTEL: 'true',
      EXOTEL_BASIC_AUTH: `${EXOTEL.user}:${EXOTEL.password}=tenant-a`,
      TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
      TWILIO_PUBLIC_URL: TWILIO_URL,
      TWILIO_ACCOUNT_TENANTS: 'AC-test=tenant-a',
    });
    const { cluster, port, admin, streamKey } = setup;
    const workersBefore = readyWorkerPids(cluster);
    assert.equal(workersBefore.length, 2);
    // Generated before any stream opens: a long synchronous step must not stall the well-behaved clients.
    const cases = generateCases(seed);

    let finishSteady!: () => void;
    const steadyDone = new Promise<void>((resolve) => (finishSteady = resolve));
    // Settled, not rejected: a failing stream is reported with the rest at the end, never as a stray rejection.
    const steady = Array.from({ length: STEADY_STREAMS }, (_, i) =>
      runSteadyStream(setup.url, setup.token, i, ACK_INTERVAL, steadyDone).then(
        (result) => ({ result }),
        (err: unknown) => ({ error: `steady-${i}: ${(err as Error).message}` }),
      ),
    );

    const slow = await Promise.all(Array.from({ length: SLOW_UPGRADES }, () => startSlowUpgrade(port, 1000)));
    t.after(() => slow.forEach((s) => s.stop()));

    const basic = `Basic ${Buffer.from(`${EXOTEL.user}:${EXOTEL.password}`).toString('base64')}`;
    const twilioSignature = createHmac('sha1', TWILIO_TOKEN).update(TWILIO_URL).digest('base64');
    const endpoint = {
      origin: `ws://127.0.0.1:${port}`,
      headers: (mcase: MessageCase): Record<string, string> =>
        mcase.dialect === 'native'
          ? { Authorization: `Bearer ${setup.token}` }
          : mcase.dialect === 'exotel'
            ? { Authorization: basic }
            : { 'X-Twilio-Signature': twilioSignature },
    };
    const raw = { port, token: setup.token };

    const failures: string[] = [];
    const tally = { messages: 0, native: 0, exotel: 0, twilio: 0, frames: 0, http: 0 };
    const closes = new Map<string, number>();
    const fuzzStart = Date.now();
    await pool(cases, CONCURRENCY, async (c, i) => {
      const where = `case ${i} (seed ${seed}) ${c.kind === 'messages' ? c.dialect : c.kind}: ${c.label}`;
      try {
        if (c.kind === 'messages') {
          const played = await playMessageCase(endpoint, c, CASE_DEADLINE_MS);
          tally.messages += played.sent;
          tally[c.dialect]++;
          const key = `${c.dialect} ${played.code}`;
          closes.set(key, (closes.get(key) ?? 0) + 1);
          if (!endAllowed(c.expect, played))
            failures.push(
              `${where}: closed ${played.code} "${played.reason}" error ${played.errorCode}, ` +
                `expected ${JSON.stringify(c.expect)}`,
            );
        } else if (c.kind === 'frames') {
          const { code } = await playFrameCase(raw, c, CASE_DEADLINE_MS);
          tally.frames++;
          closes.set(`raw ${code}`, (closes.get(`raw ${code}`) ?? 0) + 1);
          if (!c.expect.codes.includes(code))
            failures.push(`${where}: closed ${code}, expected ${c.expect.codes.join('|')}`);
        } else {
          const { status } = await playHttpCase(raw, c, CASE_DEADLINE_MS);
          tally.http++;
          closes.set(`http ${status}`, (closes.get(`http ${status}`) ?? 0) + 1);
          if (!c.expect.statuses.includes(status))
            failures.push(`${where}: answered ${status}, expected ${c.expect.statuses.join('|')}`);
        }
      } catch (err) {
        failures.push(`${where}: ${(err as Error).message}`);
      }
    });
    const fuzzMs = Date.now() - fuzzStart;
    finishSteady();
    const steadyOutcomes = await Promise.all(steady);

    const summary =
      `fuzz: seed ${seed}, ${cases.length} cases (native ${tally.native}, exotel ${tally.exotel}, ` +
      `twilio ${tally.twilio}, raw frames ${tally.frames}, http ${tally.http}), ${tally.messages} protocol messages, ` +
      `${SLOW_UPGRADES} slow upgrades, ` +
      `in ${(fuzzMs / 1000).toFixed(1)} s (whole test ${((Date.now() - began) / 1000).toFixed(1)} s); ` +
      `closes ${JSON.stringify(Object.fromEntries([...closes].sort()))}`;
    t.diagnostic(summary);
    console.log(summary);
    assert.deepEqual(failures.slice(0, 30), [], `${failures.length} cases ended otherwise than documented`);
    assert.ok(tally.messages >= MIN_MESSAGES, `only ${tally.messages} protocol messages sent`);

    // No worker died or was replaced.
    assert.deepEqual(readyWorkerPids(cluster), workersBefore, 'the same two workers served the whole run');
    assert.equal(cluster.logs().filter((e) => e.msg === 'worker exited unexpectedly: replacing it').length, 0);
    const scrape = await scrapeMetrics(cluster.metricsPort);
    assert.equal(scrape.value('ingest_worker_restarts_total') ?? 0, 0);
    assert.equal(
      cluster.logs().filter((e) => /unexpected error/.test(String(e.msg))).length,
      0,
      'no bug caught by the catch-all',
    );

    // Slow upgrades were never answered with a WebSocket.
    for (const s of slow) assert.doesNotMatch(s.answer(), /^HTTP\/1\.1 101/);

    // The well-behaved streams: every frame committed, in order, byte-exact in Redis.
    assert.deepEqual(
      steadyOutcomes.flatMap((o) => ('error' in o ? [o.error] : [])),
      [],
    );
    const records = byInteraction(await readStream(admin, streamKey));
    for (const o of steadyOutcomes) {
      if (!('result' in o)) continue;
      const r = o.result;
      const last = r.sent.frames.length;
      assert.equal(r.close.code, 1000, `${r.sent.interactionId}: closed ${r.close.code} ${r.close.reason}`);
      assert.equal(r.stopped?.last_seq, last);
      assert.ok(last >= ACK_INTERVAL, `${r.sent.interactionId} ran during the fuzz`);
      for (let k = 1; k < r.committed.length; k++)
        assert.ok(r.committed[k] > r.committed[k - 1], `${r.sent.interactionId}: committed out of order`);
      assert.equal(r.committed.at(-1), last, `${r.sent.interactionId}: everything committed`);
      assertAudioCovers(records.get(r.sent.interactionId) ?? [], r.sent, last);
    }
    const servedBy = new Set(
      cluster
        .logs()
        .filter((e) => e.msg === 'stream started' && String(e.interaction_id).startsWith('steady-'))
        .map((e) => e.pid),
    );
    assert.equal(servedBy.size, 2, 'well-behaved streams ran on both workers');

    cluster.child.kill('SIGTERM');
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
  },
);
