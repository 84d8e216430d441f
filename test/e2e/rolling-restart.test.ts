/**
 * Rolling restart (SIGHUP) through the real cluster: no new connection is
 * refused while the workers are replaced one at a time, streams on old
 * workers are closed with 1012 after DRAIN_TIMEOUT_MS and resume from
 * committed + 1, every frame lands in Redis, and every worker pid changes.
 * A SIGHUP during a roll queues at most one more; SIGTERM during a roll wins.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { readyWorkerPids, type RunningCluster } from '../support/cluster';
import { frameBytes } from '../support/ingest-server';
import { readStream } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { countdown, deferred } from '../support/deferred';
import { runResumingStream } from '../support/resuming-stream';
import { field } from '../support/field-map';
import { assertAudioCovers, byInteraction, type SentStream } from '../support/stream-check';

const ACK_INTERVAL = 10;

/** What every cluster in this file runs with; each test adds its drain and shutdown timeouts. */
const ROLL_ENV = { ACK_INTERVAL: String(ACK_INTERVAL), BUFFER_DURATION_MS: '200' };

/** The pid of the worker that started each stream id, from the workers' "stream started" lines. */
function streamServers(cluster: RunningCluster): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of cluster.logs())
    if (e.msg === 'stream started' && typeof e.stream_id === 'string') out.set(e.stream_id, e.pid as number);
  return out;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface ShortStream {
  readonly sent: SentStream;
  readonly outcome: Promise<string | undefined>;
}

/** connect, start, 5 frames, stop: undefined when it ended with stopped + 1000, else what went wrong. */
async function shortStream(t: TestContext, url: string, token: string, sent: SentStream): Promise<string | undefined> {
  let client: IngestClient;
  try {
    client = await IngestClient.connect(url, { token });
  } catch (err) {
    return `${sent.interactionId}: connect failed: ${(err as Error).message}`;
  }
  t.after(() => {
    if (!client.closeState) client.ws.terminate();
  });
  try {
    await client.start({ interactionId: sent.interactionId });
    for (const frame of sent.frames) client.sendFrame(frame);
    const { stopped, close } = await client.stop();
    if (close.code !== 1000 || stopped?.last_seq !== sent.frames.length)
      return `${sent.interactionId}: ended with ${close.code} ${close.reason}, stopped ${JSON.stringify(stopped)}`;
  } catch (err) {
    return `${sent.interactionId}: ${(err as Error).message}`;
  }
  return undefined;
}

/** `lanes` loops of back-to-back short streams until `until` resolves. */
function shortStreamLoops(
  t: TestContext,
  setup: RedisCluster,
  lanes: number,
  until: Promise<void>,
): Promise<ShortStream[]> {
  let done = false;
  void until.then(() => (done = true));
  const all: ShortStream[] = [];
  const lane = async (l: number): Promise<void> => {
    for (let n = 0; !done; n++) {
      const index = 10_000 + l * 1000 + n;
      const sent: SentStream = {
        interactionId: `short-${l}-${n}`,
        tenantId: 'tenant-a',
        firstSeq: 1,
        frames: Array.from({ length: 5 }, (_, k) => frameBytes(index, k + 1, 160)),
      };
      const outcome = shortStream(t, setup.url, setup.token, sent);
      all.push({ sent, outcome });
      await outcome;
    }
  };
  return Promise.all(Array.from({ length: lanes }, (_, l) => lane(l))).then(() => all);
}

test(
  'SIGHUP rolls every worker while 100 streams run and new ones keep arriving: none ' +
    'refused, old streams get 1012 and resume, every frame in Redis, every pid new',
  { timeout: 180_000 },
  async (t) => {
    const LONG = 100;
    const FRAMES = 100;
    const setup = await startRedisCluster(t, 'roll', { ...ROLL_ENV, DRAIN_TIMEOUT_MS: '500' });
    const { cluster } = setup;
    const pidsBefore = readyWorkerPids(cluster);
    assert.equal(pidsBefore.length, 2);

    const sent: SentStream[] = Array.from({ length: LONG }, (_, i) => ({
      interactionId: `long-${i}`,
      tenantId: 'tenant-a',
      firstSeq: 1,
      frames: Array.from({ length: FRAMES }, (_, k) => frameBytes(i, k + 1, 160 + (i % 5) * 40)),
    }));
    const atHalf = countdown(LONG);
    const rolled = deferred();
    const long = Promise.all(
      sent.map((s) =>
        runResumingStream(t, {
          ...setup,
          sent: s,
          ackInterval: ACK_INTERVAL,
          hold: { beforeSeq: FRAMES / 2 + 1, release: rolled.promise, onReached: atHalf.tick },
        }),
      ),
    );
    long.catch(() => undefined); // awaited below
    await atHalf.promise;

    const shorts = shortStreamLoops(t, setup, 4, rolled.promise);
    cluster.child.kill('SIGHUP');
    await cluster.waitForLog((e) => e.msg === 'rolling restart complete', 'the rolling restart to complete', 120_000);
    rolled.resolve();
    const [outcomes, shortStreams] = await Promise.all([long, shorts]);

    // New connections during the roll: every one accepted, every short stream complete.
    const failures = (await Promise.all(shortStreams.map((s) => s.outcome))).filter((f) => f !== undefined);
    assert.deepEqual(failures, [], 'no new connection refused or failed during the roll');
    assert.ok(shortStreams.length > 0);

    // Every worker replaced: the old pids are gone, the streams now run on the new ones.
    const pidsAfter = readyWorkerPids(cluster).slice(2);
    assert.equal(pidsAfter.length, 2, 'one replacement per worker');
    for (const pid of pidsBefore) {
      assert.ok(!pidsAfter.includes(pid));
      assert.ok(!isAlive(pid), `old worker ${pid} has exited`);
    }
    const servers = streamServers(cluster);
    for (const [i, s] of sent.entries()) {
      const { connections, lostConnects } = outcomes[i];
      assert.equal(lostConnects, 0, `${s.interactionId}: every connect answered`);
      const closes = connections.map((c) => c.close.code);
      assert.equal(closes.at(-1), 1000);
      assert.ok(
        closes.length >= 2,
        `${s.interactionId} was on an old worker: closed with 1012 at least once (${closes.join(', ')})`,
      );
      for (const code of closes.slice(0, -1))
        assert.equal(code, 1012, `${s.interactionId}: drained with 1012 (${closes.join(', ')})`);
      for (let k = 1; k < connections.length; k++) {
        assert.equal(
          connections[k - 1].committed,
          FRAMES / 2,
          `${s.interactionId}: the drain committed everything received before closing`,
        );
        assert.equal(
          connections[k].firstSeq,
          connections[k - 1].committed + 1,
          `${s.interactionId}: resumed at committed + 1`,
        );
      }
      assert.ok(
        pidsAfter.includes(servers.get(connections.at(-1)!.streamId!)!),
        `${s.interactionId} ends on a new worker`,
      );
    }

    const grouped = byInteraction(await readStream(setup.admin, setup.streamKey));
    for (const s of [...sent, ...shortStreams.map((x) => x.sent)]) {
      const records = grouped.get(s.interactionId);
      assert.ok(records, `${s.interactionId} has records`);
      assertAudioCovers(records, s, s.frames.length); // drained, not killed: every frame exactly once
      assert.equal(field(records.at(-1)!, 'reason'), 'stop');
    }
    cluster.child.kill('SIGTERM');
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
  },
);

/** Opens held streams until each of the two workers serves at least one; returns their clients. */
async function streamsOnBothWorkers(
  t: TestContext,
  setup: RedisCluster,
  label: string,
): Promise<Array<{ client: IngestClient; sent: SentStream }>> {
  const out: Array<{ client: IngestClient; sent: SentStream }> = [];
  const workers = (): Set<unknown> =>
    new Set(
      setup.cluster
        .logs()
        .filter((e) => e.msg === 'stream started' && String(e.interaction_id).startsWith(`${label}-`))
        .map((e) => e.worker_id),
    );
  for (let i = 0; workers().size < 2 || out.length < 4; i++) {
    assert.ok(i < 50, 'streams reach both workers');
    const sent: SentStream = {
      interactionId: `${label}-${i}`,
      tenantId: 'tenant-a',
      firstSeq: 1,
      frames: Array.from({ length: 20 }, (_, k) => frameBytes(i, k + 1)),
    };
    const client = await IngestClient.connect(setup.url, { token: setup.token });
    t.after(() => {
      if (!client.closeState) client.ws.terminate();
    });
    await client.start({ interactionId: sent.interactionId });
    for (const frame of sent.frames) client.sendFrame(frame);
    await client.waitForMessage((m) => m.type === 'ack' && m.seq === 20);
    out.push({ client, sent });
    await setup.cluster.waitForLog(
      (e) => e.msg === 'stream started' && e.interaction_id === sent.interactionId,
      `${sent.interactionId} logged`,
    );
  }
  return out;
}

test(
  'a SIGHUP during a rolling restart queues one more roll, never a parallel one',
  { timeout: 120_000 },
  async (t) => {
    // A long drain keeps the first roll in progress until the test ends its streams.
    const setup = await startRedisCluster(t, 'roll-twice', { ...ROLL_ENV, DRAIN_TIMEOUT_MS: '600000' });
    const { cluster } = setup;
    const streams = await streamsOnBothWorkers(t, setup, 'held');
    cluster.child.kill('SIGHUP');
    await cluster.waitForLog(
      (e) => e.msg === 'replacement ready: draining the old worker',
      'the first roll draining a worker',
    );
    cluster.child.kill('SIGHUP');
    cluster.child.kill('SIGHUP');
    await cluster.waitForLog(
      (e) => e.msg === 'rolling restart in progress: one more queued to run after it',
      'the second request queued',
    );
    // Let the drains finish: the streams stop by themselves inside the drain.
    for (const { client } of streams) assert.equal((await client.stop()).close.code, 1000);
    await cluster.waitForLog(
      (e) =>
        e.msg === 'rolling restart complete' &&
        cluster.logs().filter((x) => x.msg === 'rolling restart complete').length === 2,
      'both rolls to complete',
      60_000,
    );
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);

    const events = cluster
      .logs()
      .filter(
        (e) =>
          e.role === 'primary' &&
          ['rolling restart: replacing workers one at a time', 'rolling restart complete', 'worker ready'].includes(
            e.msg as string,
          ),
      );
    const rolls = events
      .filter((e) => e.msg !== 'worker ready')
      .map((e) => (e.msg === 'rolling restart complete' ? 'end' : 'start'));
    assert.deepEqual(rolls, ['start', 'end', 'start', 'end'], 'two rolls, one after the other');
    assert.equal(
      cluster.logs().filter((e) => e.msg === 'rolling restart in progress: one more queued to run after it').length,
      1,
    );
    const pids = readyWorkerPids(cluster);
    assert.equal(pids.length, 6, '2 workers, then 2 replacements per roll');
    assert.equal(new Set(pids).size, 6, 'every roll replaced every worker');
  },
);

test(
  'SIGTERM during a rolling restart wins: the roll stops, the primary exits 0 and every acked frame is in Redis',
  { timeout: 120_000 },
  async (t) => {
    const setup = await startRedisCluster(t, 'roll-term', {
      ...ROLL_ENV,
      DRAIN_TIMEOUT_MS: '600000',
      SHUTDOWN_TIMEOUT_MS: '30000',
    });
    const { cluster } = setup;
    const streams = await streamsOnBothWorkers(t, setup, 'term');
    cluster.child.kill('SIGHUP');
    await cluster.waitForLog(
      (e) => e.msg === 'replacement ready: draining the old worker',
      'the roll draining a worker',
    );
    cluster.child.kill('SIGTERM');
    // Far below DRAIN_TIMEOUT_MS: the shutdown cuts the drain short.
    const exit = await Promise.race([
      cluster.exited,
      new Promise((resolve) => setTimeout(resolve, 60_000, 'still running').unref()),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(cluster.logs().some((e) => e.msg === 'shutdown complete: everything buffered was published'));
    assert.ok(!cluster.logs().some((e) => e.msg === 'rolling restart complete'), 'the roll did not go on');
    assert.equal(readyWorkerPids(cluster).length, 3, 'no worker forked after SIGTERM');

    const grouped = byInteraction(await readStream(setup.admin, setup.streamKey));
    for (const { client, sent } of streams) {
      const close = await client.closed;
      assert.ok([1001, 1012].includes(close.code), `${sent.interactionId}: closed with ${close.code}`);
      assert.equal(client.lastCommitted(), 20, `${sent.interactionId}: every acked frame committed before the close`);
      const records = grouped.get(sent.interactionId);
      assert.ok(records);
      assertAudioCovers(records, sent, 20);
      assert.equal(field(records.at(-1)!, 'reason'), 'shutdown');
    }
  },
);
