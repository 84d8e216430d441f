/**
 * MAX_STREAMS_PER_TENANT on the real processes: two instances (two primaries,
 * two workers each) sharing the real Redis's leases, and one instance without
 * a Redis for the limits, where its primary counts. Refusals are 429
 * tenant_stream_limit with Retry-After and counted; a SIGKILLed instance's
 * slots free themselves within one lease period; no slot outlives its stream;
 * a stream closed by a rolling restart gives its lease back with its close
 * frame, so its client's resume is never refused by its own old lease.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { tenantLeaseKey } from '../../src/worker/admission/redis-lease-store';
import { killInstance, startCluster, type RunningCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { pollUntil } from '../support/http-get';
import { scrapeMetrics } from '../support/prometheus';
import { redisScratch, startTcpProxy } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { refusedUpgrade } from '../support/refused-upgrade';
import { countdown, deferred } from '../support/deferred';
import { frameBytes } from '../support/ingest-server';
import { runResumingStream } from '../support/resuming-stream';
import type { SentStream } from '../support/stream-check';
import { makeKeyPair, signToken } from '../support/tokens';
import { uniqueName } from '../support/unique-name';

const LIMIT = 4;
const TTL_MS = 2000;

/** Connects and starts a stream; the socket is terminated after the test if still open. */
async function openStream(t: TestContext, url: string, token: string, interactionId: string): Promise<IngestClient> {
  const client = await IngestClient.connect(url, { token });
  t.after(() => {
    if (!client.closeState) client.ws.terminate();
  });
  await client.start({ interactionId });
  return client;
}

/** The next stream must be refused with 429 tenant_stream_limit and Retry-After. */
async function assertAtLimit(url: string, token: string): Promise<void> {
  const refusal = await refusedUpgrade(IngestClient.connect(url, { token }), 429, 'tenant_stream_limit');
  assert.equal(refusal.headers['retry-after'], '5');
}

/** One instance of WORKERS workers on the in_memory adapter, ready; `token` streams for tenant-a. */
async function startInMemoryInstance(
  t: TestContext,
  env: Record<string, string>,
): Promise<{ cluster: RunningCluster; url: string; sign: (tenantId: string) => string; token: string }> {
  const keys = makeKeyPair('ec');
  const port = await freePort();
  const cluster = await startCluster(t, {
    PORT: String(port),
    PUBSUB_ADAPTER: 'in_memory',
    JWT_PUBLIC_KEY: keys.publicKeyPem,
    ...env,
  });
  await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
  const sign = (tenantId: string): string => signToken(keys.privateKey, { tenant_id: tenantId });
  return { cluster, url: `ws://127.0.0.1:${port}/v1/ingest`, sign, token: sign('tenant-a') };
}

async function refusals(metricsPort: number): Promise<number> {
  return (await scrapeMetrics(metricsPort)).value('ingest_connections_total', { result: 'tenant_stream_limit' }) ?? 0;
}

test(
  'MAX_STREAMS_PER_TENANT holds across two instances through leases in Redis: the 5th stream on either gets 429, ' +
    "another tenant does not; a SIGKILLed instance's slots free within one lease period; no slot is left over",
  { timeout: 180_000 },
  async (t) => {
    const tenant = uniqueName('tenant');
    const other = uniqueName('other');
    const limits = { MAX_STREAMS_PER_TENANT: String(LIMIT), TENANT_LEASE_TTL_MS: String(TTL_MS) };
    // Both instances share the lease keys (TENANT_LEASE_KEY_PREFIX); each has its own stream key.
    const { admin, prefix } = redisScratch(t, 'tenant-limits');
    const leasePrefix = `${prefix}:stream_leases:`;
    const shared = { ...limits, TENANT_LEASE_KEY_PREFIX: leasePrefix };
    const a = await startRedisCluster(t, 'tenant-limits-a', shared);
    const b = await startRedisCluster(t, 'tenant-limits-b', shared);
    const instances: RedisCluster[] = [a, b];
    const tokenOn = (i: RedisCluster, tenantId = tenant): string => i.sign({ tenant_id: tenantId });
    const leases = (tenantId: string): Promise<number> => admin.zcard(tenantLeaseKey(leasePrefix, tenantId));

    const onA = [await openStream(t, a.url, tokenOn(a), 'a-1'), await openStream(t, a.url, tokenOn(a), 'a-2')];
    const onB = [await openStream(t, b.url, tokenOn(b), 'b-1'), await openStream(t, b.url, tokenOn(b), 'b-2')];
    assert.equal(await leases(tenant), LIMIT);
    for (const i of instances) await assertAtLimit(i.url, tokenOn(i));
    for (const i of instances) assert.equal(await refusals(i.cluster.metricsPort), 1, 'each refusal is counted');
    const otherStream = await openStream(t, a.url, tokenOn(a, other), 'other-1');
    assert.equal(
      (await scrapeMetrics(a.cluster.metricsPort)).value('ingest_tenant_leases_held'),
      3,
      "instance A's gauge: its two streams of the tenant and the other tenant's",
    );

    // Closing one stream frees its slot, for a stream on the other instance.
    await onA.pop()!.stop();
    const third = await pollUntil(
      () => openStream(t, b.url, tokenOn(b), 'b-3'),
      'a stream on B once one on A stopped',
      10_000,
      100,
    );
    onB.push(third);
    await assertAtLimit(a.url, tokenOn(a));

    // B holds three of the four slots; killed (workers and primary), it releases nothing: its leases expire.
    killInstance(b.cluster);
    await b.cluster.exited;
    const killedAt = Date.now();
    const replacements = [];
    for (let i = 0; i < 3; i++) {
      replacements.push(
        await pollUntil(
          () => openStream(t, a.url, tokenOn(a), `after-kill-${i}`),
          "B's slots to free themselves",
          TTL_MS * 2,
          100,
        ),
      );
    }
    assert.ok(Date.now() - killedAt <= TTL_MS * 2, 'within about one lease period');
    await assertAtLimit(a.url, tokenOn(a));

    for (const client of [...onA, ...replacements, otherStream]) assert.equal((await client.stop()).close.code, 1000);
    await pollUntil(
      async () => ((await leases(tenant)) + (await leases(other)) === 0 ? true : undefined),
      'every lease released',
    );
    assert.equal(await admin.exists(tenantLeaseKey(leasePrefix, tenant)), 0, 'no key left for an idle tenant');
    a.cluster.child.kill('SIGTERM');
    assert.equal((await a.cluster.exited).code, 0);
  },
);

test(
  'without a Redis for the limits (in_memory), the primary counts: the limit holds across both workers, ' +
    "and a SIGKILLed worker's slots free once the primary sees its exit",
  { timeout: 120_000 },
  async (t) => {
    const { cluster, url, sign, token } = await startInMemoryInstance(t, { WORKERS: '2', MAX_STREAMS_PER_TENANT: '3' });
    const byPid = new Map<number, number>();
    for (let i = 0; i < 3; i++) {
      await openStream(t, url, token, `s-${i}`);
      const started = await cluster.waitForLog(
        (e) => e.msg === 'stream started' && e.interaction_id === `s-${i}`,
        `stream s-${i} started`,
      );
      byPid.set(started.pid as number, (byPid.get(started.pid as number) ?? 0) + 1);
    }
    assert.equal(byPid.size, 2, 'the streams landed on both workers');
    await assertAtLimit(url, token);
    await assertAtLimit(url, token);
    assert.equal(await refusals(cluster.metricsPort), 2);
    await openStream(t, url, sign('tenant-b'), 'b-1');

    const [victim, held] = [...byPid].sort((x, y) => y[1] - x[1])[0];
    process.kill(victim, 'SIGKILL');
    await cluster.waitForLog((e) => e.msg === 'freed the tenant stream slots of an exited worker', 'slots freed');
    for (let i = 0; i < held; i++) {
      await pollUntil(() => openStream(t, url, token, `after-${i}`), 'a freed slot', 10_000, 100);
    }
    await assertAtLimit(url, token);
    cluster.child.kill('SIGTERM');
    await cluster.exited;
  },
);

test(
  'with kafka or in_memory, LIMITS_REDIS_URL holds the leases; while it is unreachable streams are admitted ' +
    '(fail open, counted, logged once), and once it is back the renewal adds their leases and the limit holds',
  { timeout: 120_000 },
  async (t) => {
    const { admin, prefix } = redisScratch(t, 'tenant-limits-open');
    const leasePrefix = `${prefix}:stream_leases:`;
    const proxy = await startTcpProxy(t);
    const { cluster, url, token } = await startInMemoryInstance(t, {
      WORKERS: '1',
      MAX_STREAMS_PER_TENANT: '1',
      TENANT_LEASE_TTL_MS: '900',
      LIMITS_REDIS_URL: proxy.url,
      TENANT_LEASE_KEY_PREFIX: leasePrefix,
    });
    const leases = (): Promise<number> => admin.zcard(tenantLeaseKey(leasePrefix, 'tenant-a'));
    const first = await openStream(t, url, token, 'first');
    assert.equal(await leases(), 1, 'the lease is in the Redis of LIMITS_REDIS_URL');
    await assertAtLimit(url, token);

    proxy.cut();
    const admitted = await openStream(t, url, token, 'while-down');
    const warning = await cluster.waitForLog((e) => e.code === 'tenant_leases_unavailable', 'the fail-open warning');
    assert.equal(warning.level, 'warn');
    const scrape = await scrapeMetrics(cluster.metricsPort);
    assert.ok(scrape.value('ingest_tenant_lease_errors_total', { op: 'acquire' })! >= 1, 'the fail-open is counted');
    assert.equal(scrape.value('ingest_tenant_leases_held'), 2);

    proxy.restore();
    await cluster.waitForLog((e) => e.msg === 'the tenant lease store answers again', 'the store back');
    await pollUntil(async () => ((await leases()) === 2 ? true : undefined), 'the renewal to add the lease');
    const after = await scrapeMetrics(cluster.metricsPort);
    assert.ok(after.value('ingest_tenant_leases_readded_total')! >= 1, 'the re-added lease is counted');
    await assertAtLimit(url, token);
    assert.equal(
      cluster.logs().filter((e) => e.code === 'tenant_leases_unavailable').length,
      1,
      'one warning for the outage, not one per stream or renewal',
    );

    for (const client of [first, admitted]) assert.equal((await client.stop()).close.code, 1000);
    await pollUntil(async () => ((await leases()) === 0 ? true : undefined), 'every lease released');
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);

test(
  'a rolling restart (SIGHUP) with the tenant at MAX_STREAMS_PER_TENANT: every stream closed with 1012 resumes ' +
    'at once with no 429, its lease given back with the close frame',
  { timeout: 180_000 },
  async (t) => {
    const STREAMS = 12;
    const FRAMES = 40;
    const ACK_INTERVAL = 10;
    const { admin, prefix } = redisScratch(t, 'tenant-limits-roll');
    const leasePrefix = `${prefix}:stream_leases:`;
    const setup = await startRedisCluster(t, 'tenant-limits-roll', {
      MAX_STREAMS_PER_TENANT: String(STREAMS),
      TENANT_LEASE_KEY_PREFIX: leasePrefix,
      ACK_INTERVAL: String(ACK_INTERVAL),
      BUFFER_DURATION_MS: '100',
      DRAIN_TIMEOUT_MS: '200',
    });
    const { cluster } = setup;
    const sent: SentStream[] = Array.from({ length: STREAMS }, (_, i) => ({
      interactionId: `roll-${i}`,
      tenantId: 'tenant-a',
      firstSeq: 1,
      frames: Array.from({ length: FRAMES }, (_, k) => frameBytes(i, k + 1, 160)),
    }));
    const atHalf = countdown(STREAMS);
    const rolled = deferred();
    const streams = Promise.all(
      sent.map((s) =>
        runResumingStream(t, {
          ...setup,
          sent: s,
          ackInterval: ACK_INTERVAL,
          // Parked until the roll has closed it: each resumes the moment its 1012 arrives.
          hold: { beforeSeq: FRAMES / 2 + 1, release: rolled.promise, onReached: atHalf.tick },
        }),
      ),
    );
    streams.catch(() => undefined); // awaited below
    await atHalf.promise;
    assert.equal(await admin.zcard(tenantLeaseKey(leasePrefix, 'tenant-a')), STREAMS, 'the tenant is at its limit');

    cluster.child.kill('SIGHUP');
    await cluster.waitForLog((e) => e.msg === 'rolling restart complete', 'the rolling restart to complete', 120_000);
    rolled.resolve();
    const outcomes = await streams; // a 429 on any resume rejects here
    for (const [i, outcome] of outcomes.entries()) {
      assert.equal(outcome.connections[0].close.code, 1012, `${sent[i].interactionId}: closed by the roll`);
      assert.equal(outcome.stopped.last_seq, FRAMES);
    }
    assert.equal(await refusals(cluster.metricsPort), 0, 'no resume was refused by its own old lease');
    await pollUntil(
      async () => ((await admin.zcard(tenantLeaseKey(leasePrefix, 'tenant-a'))) === 0 ? true : undefined),
      'every lease released',
    );
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);

test(
  'a client that resumes on the 1012 close frame, before answering it, is not refused by its own lease: the ' +
    'lease goes back when the server sends its close frame, not when the socket closes',
  { timeout: 120_000 },
  async (t) => {
    const { admin, prefix } = redisScratch(t, 'tenant-limits-early');
    const leasePrefix = `${prefix}:stream_leases:`;
    const setup = await startRedisCluster(t, 'tenant-limits-early', {
      WORKERS: '1',
      MAX_STREAMS_PER_TENANT: '1',
      TENANT_LEASE_KEY_PREFIX: leasePrefix,
      ACK_INTERVAL: '5',
      DRAIN_TIMEOUT_MS: '200',
    });
    const { cluster, url, token } = setup;
    const first = await openStream(t, url, token, 'early');
    for (let seq = 1; seq <= 5; seq++) first.sendFrame(frameBytes(1, seq, 160));
    await first.waitForMessage((m) => m.type === 'ack' && m.seq === 5);
    // The client stops reading: it never sees the close frame, so its socket stays open meanwhile.
    first.ws.pause();
    cluster.child.kill('SIGHUP');
    await cluster.waitForLog(
      (e) => e.msg === 'stream ended' && e.interaction_id === 'early' && e.reason === 'shutdown',
      'the roll to close the stream',
    );
    const resumed = await IngestClient.connect(url, { token });
    t.after(() => {
      if (!resumed.closeState) resumed.ws.terminate();
    });
    assert.equal((await resumed.start({ interactionId: 'early', firstSeq: 6 })).next_seq, 6);
    assert.equal(await admin.zcard(tenantLeaseKey(leasePrefix, 'tenant-a')), 1, 'the resumed stream holds the lease');
    assert.equal((await resumed.stop()).close.code, 1000);
    first.ws.resume();
    assert.equal((await first.closed).code, 1012);
    cluster.child.kill('SIGTERM');
    await cluster.exited;
  },
);
