/**
 * A worker during a Redis outage (issue 10, holes 1 and 2), on a real
 * redis_streams publisher reached through a TCP proxy the test cuts: clients
 * that drop and resume as the protocol says must not grow the worker without
 * bound, and a resumed interaction never interleaves with its old session.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IngestClient, UpgradeRefused } from '../../../src/client/ingest-client';
import { createWorkerMetrics } from '../../../src/worker/metrics/worker-metrics';
import { entryFields, field } from '../../support/field-map';
import { pollUntil } from '../../support/http-get';
import { frameBytes, startTestServer, type TestServer } from '../../support/ingest-server';
import { readStream, redisScratch, startTcpProxy, type TcpProxy } from '../../support/redis';

const MiB = 1024 * 1024;

interface Outage {
  readonly server: TestServer;
  readonly proxy: TcpProxy;
  readonly streamKey: string;
  readonly admin: ReturnType<typeof redisScratch>['admin'];
}

async function behindProxy(t: TestContext, label: string, env: Record<string, string>): Promise<Outage> {
  const proxy = await startTcpProxy(t);
  const { admin, prefix } = redisScratch(t, label);
  const streamKey = `${prefix}:audio`;
  const server = await startTestServer(t, {
    PUBSUB_ADAPTER: 'redis_streams',
    REDIS_URL: proxy.url,
    REDIS_STREAM_KEY: streamKey,
    LOG_LEVEL: 'info',
    ...env,
  });
  return { server, proxy, streamKey, admin };
}

/**
 * Ends an outage test that failed midway: the backend comes back and the server
 * closes now, while the proxy still forwards (the after-hooks close the proxy
 * before the server, and a worker that keeps its data would wait forever).
 */
async function closeAfterOutage(server: TestServer, proxy: TcpProxy): Promise<void> {
  proxy.restore();
  await server.server.close();
}

/** Connects, or returns the refusal when the upgrade is answered with an HTTP error. */
async function connectOrRefused(server: TestServer): Promise<IngestClient | UpgradeRefused> {
  try {
    return await server.connect();
  } catch (err) {
    if (err instanceof UpgradeRefused) return err;
    throw err;
  }
}

test(
  '1 drop-and-reconnect during an outage is bounded by MAX_WORKER_BACKLOG_BYTES: new streams get 503 ' +
    'worker_backlog_full with Retry-After, closed streams are given up after CLOSED_STREAM_RETENTION_MS and ' +
    'counted lost',
  async (t) => {
    const cap = 3 * MiB;
    const { server, proxy, streamKey, admin } = await behindProxy(t, 'drops', {
      MAX_WORKER_BACKLOG_BYTES: String(cap),
      MAX_STREAM_BACKLOG_BYTES: String(2 * MiB),
      CLOSED_STREAM_RETENTION_MS: '1500',
      MAX_CHUNK_BYTES: String(256 * 1024),
      BUFFER_DURATION_MS: '30000',
      ACK_INTERVAL: '16',
    });
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, server.server.backlogBytes())), 2);
    t.after(() => clearInterval(sampler));
    const frames = Array.from({ length: 16 }, (_, i) => frameBytes(1, i + 1, 64 * 1024)); // 1 MiB
    proxy.cut();
    try {
      let refusals = 0;
      for (let drop = 1; drop <= 20; drop++) {
        let client: IngestClient | undefined;
        while (!client) {
          const outcome = await connectOrRefused(server);
          if (outcome instanceof IngestClient) {
            client = outcome;
            break;
          }
          refusals++;
          assert.equal(outcome.status, 503);
          assert.equal(outcome.body.error, 'worker_backlog_full');
          assert.equal(outcome.headers['retry-after'], '5');
          // Retry-After is for real clients; the test waits for the space that retention frees.
          await pollUntil(
            async () => (server.server.backlog.full ? undefined : true),
            'room in the worker',
            20_000,
            20,
          );
        }
        await client.start({ interactionId: 'call-drops', firstSeq: 1 }); // nothing was ever committed
        for (const frame of frames) client.sendFrame(frame);
        await client.waitForMessage((m) => m.type === 'ack' && m.seq === 16);
        client.ws.terminate(); // the connection drops with 1 MiB acked and unpublished
        await client.closed;
      }
      assert.ok(refusals > 0, 'new streams were refused while the worker was full');
      assert.ok(peak < cap + MiB, `the worker held at most ${peak} bytes (limit ${cap}), not 20 MiB`);
      const lost = server.server.stats.lostBytes.get('retention_expired') ?? 0;
      assert.ok(lost >= 10 * MiB, `the sessions given up were counted: ${lost} bytes`);
      assert.ok(server.server.stats.lostFrames.get('retention_expired')! >= 160);
      const metrics = await createWorkerMetrics({
        stats: server.server.stats,
        backlogBytes: () => server.server.backlogBytes(),
      }).metrics();
      assert.match(metrics, /^ingest_lost_bytes_total\{reason="retention_expired"\} [1-9]\d*$/m);
      assert.ok(
        server.logs.some(
          (l) => l.msg === 'closed stream not published within CLOSED_STREAM_RETENTION_MS: its backlog is given up',
        ),
      );
    } catch (err) {
      await closeAfterOutage(server, proxy);
      throw err;
    }
    proxy.restore(); // the backend is back: the last resume goes through
    await pollUntil(async () => (server.server.backlog.full ? undefined : true), 'room in the worker', 20_000, 20);
    const last = await server.connect();
    await last.start({ interactionId: 'call-drops', firstSeq: 1 });
    for (const frame of frames) last.sendFrame(frame);
    const { stopped } = await last.stop();
    assert.deepEqual(stopped, { type: 'stopped', last_seq: 16, frames: 16 });
    await pollUntil(async () => (server.server.backlogBytes() === 0 ? true : undefined), 'everything settled');
    const entries = (await readStream(admin, streamKey)).map(entryFields);
    const audio = entries.filter((f) => field(f, 'type') === 'audio');
    const covered = new Set(audio.flatMap((f) => [Number(field(f, 'seq_start')), Number(field(f, 'seq_end'))]));
    assert.ok(covered.has(1) && covered.has(16), 'the resumed stream reached Redis');
    assert.equal(server.server.stats.streamsRetained, 0);
  },
);

test(
  '1.4 with a real Redis outage, a resumed interaction is stored after its old session: ' +
    'the old 11-20 never after the new 11-25',
  async (t) => {
    const { server, proxy, streamKey, admin } = await behindProxy(t, 'order', {
      // Plain XADD: the dedup script would store the new 11-20 as nothing and hide the order.
      REDIS_DEDUPLICATE: 'false',
      MAX_FRAME_BYTES: '1000',
      MAX_CHUNK_BYTES: '10000', // ten frames of 1000 bytes make a record
      BUFFER_DURATION_MS: '30000',
      ACK_INTERVAL: '5',
    });
    const frame = (seq: number): Buffer => frameBytes(2, seq, 1000);
    const old = await server.connect();
    await old.start({ interactionId: 'call-resumed', firstSeq: 1 });
    for (let seq = 1; seq <= 10; seq++) old.sendFrame(frame(seq));
    await old.waitForMessage((m) => m.type === 'committed' && m.seq === 10);
    proxy.cut();
    for (let seq = 11; seq <= 20; seq++) old.sendFrame(frame(seq));
    await old.waitForMessage((m) => m.type === 'ack' && m.seq === 20);
    // Let the old session's retries back off, as a long outage does.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    old.ws.terminate();
    await old.closed;
    const resumed = await server.connect();
    const started = await resumed.start({ interactionId: 'call-resumed', firstSeq: 11 });
    for (let seq = 11; seq <= 25; seq++) resumed.sendFrame(frame(seq));
    await resumed.waitForMessage((m) => m.type === 'ack' && m.seq === 25);
    const stopping = resumed.stop();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the outage outlasts the stop a little
    proxy.restore();
    const { stopped } = await stopping;
    assert.deepEqual(stopped, { type: 'stopped', last_seq: 25, frames: 15 });
    const entries = (await readStream(admin, streamKey)).map(entryFields);
    const order = entries
      .map((f) => {
        const type = field(f, 'type');
        const range = type === 'audio' ? `:${field(f, 'seq_start')}-${field(f, 'seq_end')}` : '';
        return `${field(f, 'stream_id') === started.stream_id ? 'new' : 'old'}:${type}${range}`;
      })
      .filter((entry, i, all) => all.indexOf(entry) === i); // a retried XADD may land twice
    assert.deepEqual(order, [
      'old:stream_started',
      'old:audio:1-10',
      'old:audio:11-20',
      'old:stream_ended',
      'new:stream_started',
      'new:audio:11-20',
      'new:audio:21-25',
      'new:stream_ended',
    ]);
  },
);
