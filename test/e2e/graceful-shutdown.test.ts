/**
 * SIGTERM through the real cluster, with a TCP proxy between the cluster and
 * Redis that the test stalls, so the drain lasts exactly as long as the test
 * wants: probes see /ready 503 while the workers flush, a second SIGTERM is
 * ignored, and SHUTDOWN_TIMEOUT_MS bounds a shutdown whose backend never
 * answers (exit 70, with what was lost in the log).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IngestClient, UpgradeRefused } from '../../src/client/ingest-client';
import { httpGet, pollUntil } from '../support/http-get';
import { frameBytes } from '../support/ingest-server';
import { readStream, startTcpProxy, type TcpProxy } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { field } from '../support/field-map';
import { assertAudioCovers, byInteraction, type SentStream } from '../support/stream-check';

const FRAMES = 60;
const ACK_INTERVAL = 10;

interface Setup extends RedisCluster {
  readonly proxy: TcpProxy;
}

/** Redis reached through a TCP proxy the test can stall. */
async function startBehindProxy(t: TestContext, label: string, env: Record<string, string> = {}): Promise<Setup> {
  const proxy = await startTcpProxy(t);
  const setup = await startRedisCluster(
    t,
    label,
    {
      ACK_INTERVAL: String(ACK_INTERVAL),
      BUFFER_DURATION_MS: '30000', // nothing is published by time: the shutdown must publish it
      ...env,
    },
    { redisUrl: proxy.url },
  );
  return { ...setup, proxy };
}

interface Running {
  readonly client: IngestClient;
  readonly sent: SentStream;
  /** Highest ack received before the shutdown. */
  readonly acked: number;
}

/** `count` streams, each with FRAMES frames acked and a few more in flight, their start records published. */
async function streamsUnderLoad(t: TestContext, setup: Setup, count: number): Promise<Running[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const sent: SentStream = {
        interactionId: `term-${i}`,
        tenantId: 'tenant-a',
        firstSeq: 1,
        frames: Array.from({ length: FRAMES + 5 }, (_, k) => frameBytes(i, k + 1, 200 + i * 8)),
      };
      const client = await IngestClient.connect(setup.url, { token: setup.token });
      t.after(() => {
        if (!client.closeState) client.ws.terminate();
      });
      await client.start({ interactionId: sent.interactionId });
      for (let seq = 1; seq <= FRAMES; seq++) client.sendFrame(sent.frames[seq - 1]);
      await client.waitForMessage((m) => m.type === 'ack' && m.seq === FRAMES);
      // not acked: may or may not land
      for (let seq = FRAMES + 1; seq <= FRAMES + 5; seq++) client.sendFrame(sent.frames[seq - 1]);
      return { client, sent, acked: FRAMES };
    }),
  );
}

/** Every stream's stream_started record is in Redis (so a stall holds back audio only). */
async function startsPublished(setup: Setup, streams: Running[]): Promise<void> {
  await pollUntil(async () => {
    const grouped = byInteraction(await readStream(setup.admin, setup.streamKey));
    return streams.every((s) => grouped.has(s.sent.interactionId)) ? true : undefined;
  }, 'every stream_started record in Redis');
}

test(
  'SIGTERM under load: /ready turns 503 (Retry-After) while the workers flush, then the ' +
    'primary exits 0 within SHUTDOWN_TIMEOUT_MS with every acked frame in Redis',
  { timeout: 120_000 },
  async (t) => {
    const SHUTDOWN_TIMEOUT_MS = 20_000;
    const setup = await startBehindProxy(t, 'term-load', { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) });
    const { cluster, proxy } = setup;
    const streams = await streamsUnderLoad(t, setup, 20);
    await startsPublished(setup, streams);
    assert.equal((await httpGet(`http://127.0.0.1:${setup.port}/ready`)).status, 200);

    proxy.stall(); // the flush's publishes hang: the drain lasts until unstall()
    const signalledAt = Date.now();
    cluster.child.kill('SIGTERM');
    const draining = await pollUntil(async () => {
      const answer = await httpGet(`http://127.0.0.1:${setup.port}/ready`);
      return answer.status === 503 ? answer : undefined;
    }, '/ready to answer 503');
    assert.equal(draining.headers['retry-after'], '5');
    assert.deepEqual(JSON.parse(draining.body), { ready: false, state: 'draining' });
    await assert.rejects(
      IngestClient.connect(setup.url, { token: setup.token }),
      (err: unknown) => {
        assert.ok(err instanceof UpgradeRefused);
        assert.equal(err.status, 503);
        assert.equal(err.headers['retry-after'], '5');
        return true;
      },
      'a new stream is refused while draining',
    );
    assert.equal(cluster.child.exitCode, null, 'the primary waits while publishes hang');

    proxy.unstall();
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
    assert.ok(Date.now() - signalledAt < SHUTDOWN_TIMEOUT_MS, 'exited within SHUTDOWN_TIMEOUT_MS');
    assert.ok(cluster.logs().some((e) => e.msg === 'shutdown complete: everything buffered was published'));

    const grouped = byInteraction(await readStream(setup.admin, setup.streamKey));
    for (const { client, sent, acked } of streams) {
      const close = await client.closed;
      assert.equal(close.code, 1001, `${sent.interactionId}: closed for the shutdown`);
      assert.ok(
        client.lastCommitted() >= acked,
        `${sent.interactionId}: committed ${client.lastCommitted()} before the close, acked ${acked}`,
      );
      const records = grouped.get(sent.interactionId)!;
      assertAudioCovers(records, sent, acked);
      assert.equal(field(records.at(-1)!, 'type'), 'stream_ended');
      assert.equal(field(records.at(-1)!, 'reason'), 'shutdown');
    }
  },
);

test('a second SIGTERM during the shutdown is ignored: one shutdown, exit 0', { timeout: 120_000 }, async (t) => {
  const setup = await startBehindProxy(t, 'term-twice');
  const { cluster, proxy } = setup;
  const streams = await streamsUnderLoad(t, setup, 2);
  await startsPublished(setup, streams);
  proxy.stall();
  cluster.child.kill('SIGTERM');
  await cluster.waitForLog(
    (e) => e.msg === 'shutting down: workers flush and publish every stream',
    'the shutdown to start',
  );
  cluster.child.kill('SIGTERM');
  const ignored = await cluster.waitForLog(
    (e) => e.msg === 'already shutting down: ignored',
    'the second SIGTERM to be ignored',
  );
  assert.equal(ignored.signal, 'SIGTERM');
  proxy.unstall();
  assert.deepEqual(await cluster.exited, { code: 0, signal: null });
  assert.equal(cluster.logs().filter((e) => e.msg === 'stopping').length, 1);
  assert.equal(
    cluster.logs().filter((e) => e.msg === 'shutting down: workers flush and publish every stream').length,
    1,
  );
  for (const { client } of streams) assert.equal((await client.closed).code, 1001);
});

test(
  'SHUTDOWN_TIMEOUT_MS bounds a shutdown whose backend never answers: exit 70 and the loss logged',
  { timeout: 120_000 },
  async (t) => {
    const setup = await startBehindProxy(t, 'term-deadline', { SHUTDOWN_TIMEOUT_MS: '1000' });
    const { cluster, proxy } = setup;
    const streams = await streamsUnderLoad(t, setup, 4);
    await startsPublished(setup, streams);
    proxy.stall(); // never restored
    cluster.child.kill('SIGTERM');
    assert.deepEqual(await cluster.exited, { code: 70, signal: null });
    const report = cluster.logs().find((e) => e.msg === 'shutdown incomplete: data was left unpublished');
    assert.ok(report, 'the primary logs what was lost');
    // Nothing was published by time and the flush never got through: every byte
    // received is lost, at least the acked ones, at most all that was sent.
    const bytes = (frames: Buffer[]): number => frames.reduce((n, f) => n + f.length, 0);
    const acked = streams.reduce((sum, s) => sum + bytes(s.sent.frames.slice(0, s.acked)), 0);
    const sent = streams.reduce((sum, s) => sum + bytes(s.sent.frames), 0);
    assert.equal(report.lost_streams, streams.length);
    const lost = report.lost_bytes as number;
    // Each stream's stream_ended record is lost too, counted by its encoded size (a few hundred bytes).
    const records = streams.length * 1024;
    assert.ok(
      lost >= acked && lost <= sent + records,
      `lost_bytes ${lost} between acked ${acked} and sent ${sent} (+ ${records} for the records beside the audio)`,
    );
    assert.ok(!cluster.logs().some((e) => e.msg === 'shutdown complete: everything buffered was published'));
  },
);
