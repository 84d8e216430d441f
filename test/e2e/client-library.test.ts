/**
 * @ingest/client against the real built service on Redis, while the service is broken
 * under it: a worker SIGKILLed mid-stream, a SIGHUP rolling restart, the whole service
 * stopped with SIGTERM and started again on the same port, and a Redis outage. In each,
 * every frame lands in Redis exactly as sent once deduplicated by frame seq
 * (docs/protocol.md), the client's uncommitted bytes (sampled after every event and send)
 * never pass its cap, and the token provider is asked once per connection attempt. The
 * outage runs both `whenFull` modes into the cap: 'reject' gets `buffer_full`, 'wait'
 * blocks until commits free room (that held and waiting bytes stay bounded is the frame
 * window's guarantee, tested in test/packages/client). An outage longer than
 * IDLE_TIMEOUT_MS shows the keepalive holding a blocked stream open.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { startCluster, readyWorkerPids } from '../support/cluster';
import { countdown, deferred } from '../support/deferred';
import { frameBytes } from '../support/ingest-server';
import { runLibraryStream, type LibraryStreamOptions, type LibraryStreamResult } from '../support/library-stream';
import { readStream, REDIS_URL, startTcpProxy } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { assertResumedAudioCovers } from '../support/resuming-stream';
import { byInteraction, type SentStream } from '../support/stream-check';

const STREAMS = 6;
const FRAMES = 200;
const FRAME_BYTES = 320;
const ACK_INTERVAL = 10;
const CAP = 16 * 1024;
/** Records by size (about 12 frames), never by time: at any moment some frames are acked but not committed. */
const ENV = {
  ACK_INTERVAL: String(ACK_INTERVAL),
  BUFFER_DURATION_MS: '30000',
  MAX_FRAME_BYTES: '4096',
  MAX_CHUNK_BYTES: '4096',
  DRAIN_TIMEOUT_MS: '500',
};

function streams(label: string): SentStream[] {
  return Array.from({ length: STREAMS }, (_, i) => ({
    interactionId: `${label}-${i}`,
    tenantId: 'tenant-a',
    firstSeq: 1,
    frames: Array.from({ length: FRAMES }, (_, k) => frameBytes(i, k + 1, FRAME_BYTES - (i % 3) * 16)),
  }));
}

/** Runs every stream up to its hold (half way, all acked), does `damage`, releases them, and awaits them. */
async function streamThrough(
  t: TestContext,
  setup: RedisCluster,
  sent: SentStream[],
  damage: () => Promise<void>,
  options: (index: number) => Partial<LibraryStreamOptions> = () => ({}),
): Promise<LibraryStreamResult[]> {
  const atHalf = countdown(sent.length);
  const release = deferred();
  const running = Promise.all(
    sent.map((s, i) =>
      runLibraryStream(t, {
        url: setup.url,
        sign: () => setup.sign({ tenant_id: 'tenant-a' }),
        sent: s,
        maxUncommittedBytes: CAP,
        whenFull: 'wait',
        hold: { beforeSeq: FRAMES / 2 + 1, release: release.promise, onReached: atHalf.tick },
        ...options(i),
      }),
    ),
  );
  running.catch(() => undefined); // awaited below; a failure before the release must not go unhandled
  await atHalf.promise;
  await damage();
  release.resolve();
  return running;
}

/** What every scenario must show: all frames in Redis after dedup by seq, stop answered, cap held, a token per try. */
async function assertDelivered(setup: RedisCluster, sent: SentStream[], results: LibraryStreamResult[]): Promise<void> {
  const grouped = byInteraction(await readStream(setup.admin, setup.streamKey));
  for (const [i, s] of sent.entries()) {
    const result = results[i];
    assert.deepEqual(result.stopped, { lastSeq: FRAMES, frames: FRAMES });
    assert.equal(result.closed?.code, 1000);
    assert.equal(result.closed?.error, undefined, `${s.interactionId}: ended as asked`);
    // The promise on the real service: memory held for uncommitted frames stays under the cap through every
    // fault. The frame window enforces it, so this guards against a change that lets frames bypass the window.
    assert.ok(
      result.peakUncommittedBytes <= CAP,
      `${s.interactionId}: ${result.peakUncommittedBytes} uncommitted bytes, over the cap of ${CAP}`,
    );
    assert.equal(
      result.tokenCalls,
      1 + result.reconnectAttempts,
      `${s.interactionId}: one token per connection attempt`,
    );
    const survived = result.events.filter((e) => e.type === 'reconnected').length;
    assert.equal(result.reconnects, survived, `${s.interactionId}: stats.reconnects counts the reconnected events`);
    const records = grouped.get(s.interactionId);
    assert.ok(records, `${s.interactionId} has records`);
    assertResumedAudioCovers(records, s, FRAMES);
  }
}

const reconnectCodes = (result: LibraryStreamResult): number[] =>
  result.events.flatMap((e) => (e.type === 'reconnecting' ? [e.code] : []));

test(
  'client library: a worker SIGKILLed mid-stream; its streams resume from committed + 1, every frame lands',
  { timeout: 120_000 },
  async (t) => {
    const setup = await startRedisCluster(t, 'lib-kill', ENV);
    const sent = streams('lib-kill');
    const victim = readyWorkerPids(setup.cluster)[0];
    const results = await streamThrough(t, setup, sent, async () => {
      process.kill(victim, 'SIGKILL');
      await setup.cluster.waitForLog((e) => e.msg === 'worker exited unexpectedly: replacing it', 'the kill noticed');
    });
    await assertDelivered(setup, sent, results);
    const resumed = results.filter((r) => reconnectCodes(r).includes(1006));
    assert.ok(resumed.length > 0 && resumed.length < STREAMS, `the victim's streams resumed (${resumed.length})`);
    for (const r of resumed) {
      const again = r.events.find((e) => e.type === 'reconnected');
      assert.ok(again?.type === 'reconnected' && again.resent > 0, 'frames acked but not committed were sent again');
    }
  },
);

test(
  'client library: a SIGHUP rolling restart closes every stream with 1012; each resumes at once and completes',
  { timeout: 120_000 },
  async (t) => {
    const setup = await startRedisCluster(t, 'lib-roll', ENV);
    const sent = streams('lib-roll');
    const results = await streamThrough(t, setup, sent, async () => {
      setup.cluster.child.kill('SIGHUP');
      await setup.cluster.waitForLog((e) => e.msg === 'rolling restart complete', 'the roll', 90_000);
    });
    await assertDelivered(setup, sent, results);
    for (const r of results) assert.equal(reconnectCodes(r)[0], 1012);
  },
);

test(
  'client library: the whole service stopped with SIGTERM and started again on its port; clients keep ' +
    'reconnecting meanwhile and resume on the new instance',
  { timeout: 120_000 },
  async (t) => {
    const setup = await startRedisCluster(t, 'lib-term', ENV);
    const sent = streams('lib-term');
    const results = await streamThrough(t, setup, sent, async () => {
      setup.cluster.child.kill('SIGTERM');
      assert.deepEqual(await setup.cluster.exited, { code: 0, signal: null });
      const again = await startCluster(t, {
        PORT: String(setup.port),
        WORKERS: '2',
        PUBSUB_ADAPTER: 'redis_streams',
        REDIS_URL,
        REDIS_STREAM_KEY: setup.streamKey,
        JWT_PUBLIC_KEY: setup.keys.publicKeyPem,
        ...ENV,
      });
      await again.waitForLog((e) => e.msg === 'all workers ready', 'the new instance ready');
    });
    await assertDelivered(setup, sent, results);
    for (const r of results) {
      assert.equal(reconnectCodes(r)[0], 1001, 'the shutdown closes with 1001');
      assert.ok(r.reconnects >= 1);
    }
  },
);

test(
  'client library: a Redis outage fills every window; reject mode gets buffer_full, wait mode blocks, ' +
    'and all frames land once Redis is back',
  { timeout: 120_000 },
  async (t) => {
    const proxy = await startTcpProxy(t);
    const setup = await startRedisCluster(t, 'lib-outage', ENV, { redisUrl: proxy.url });
    const sent = streams('lib-outage');
    const allFull = countdown(STREAMS);
    let restored = false;
    const results = await streamThrough(
      t,
      setup,
      sent,
      () => {
        proxy.cut();
        // Back once every stream has run into its cap: no commit can come while Redis is cut.
        void allFull.promise.then(() => {
          restored = true;
          proxy.restore();
        });
        return Promise.resolve();
      },
      (i) => ({ whenFull: i % 2 === 0 ? 'wait' : 'reject', onFull: allFull.tick }),
    );
    assert.ok(restored);
    await assertDelivered(setup, sent, results);
    for (const [i, r] of results.entries()) {
      if (i % 2 === 0) assert.equal(r.bufferFull, 0, 'wait mode never refuses');
      else assert.ok(r.bufferFull > 0, 'reject mode refused frames with buffer_full while the window was full');
      assert.ok(r.peakUncommittedBytes > CAP - FRAME_BYTES, `${sent[i].interactionId} filled its window`);
    }
  },
);

test(
  'client library: a Redis outage longer than IDLE_TIMEOUT_MS; keepalives hold the blocked stream open, ' +
    'and without them the idle close is resumed, not fatal',
  { timeout: 120_000 },
  async (t) => {
    const IDLE_TIMEOUT_MS = 1500;
    const proxy = await startTcpProxy(t);
    const env = { ...ENV, IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS) };
    const setup = await startRedisCluster(t, 'lib-idle', env, { redisUrl: proxy.url });
    const sent = streams('lib-idle').slice(0, 4);
    const allFull = countdown(sent.length);
    let outageMs = 0;
    const results = await streamThrough(
      t,
      setup,
      sent,
      () => {
        proxy.cut();
        const cutAt = Date.now();
        // Every send blocked at the cap, then three idle timeouts more with nothing but keepalives on the wire.
        void allFull.promise
          .then(() => new Promise((resolve) => setTimeout(resolve, 3 * IDLE_TIMEOUT_MS)))
          .then(() => {
            outageMs = Date.now() - cutAt;
            proxy.restore();
          });
        return Promise.resolve();
      },
      (i) => ({ keepaliveIntervalMs: i % 2 === 0 ? 250 : 0, onFull: allFull.tick }),
    );
    assert.ok(outageMs >= 3 * IDLE_TIMEOUT_MS, `the outage lasted ${outageMs} ms`);
    await assertDelivered(setup, sent, results);
    for (const [i, r] of results.entries()) {
      if (i % 2 === 0) {
        assert.deepEqual(reconnectCodes(r), [], `${sent[i].interactionId}: with keepalives the stream never dropped`);
      } else {
        assert.ok(reconnectCodes(r).includes(1000), `${sent[i].interactionId}: idle-closed, and resumed`);
      }
    }
  },
);
