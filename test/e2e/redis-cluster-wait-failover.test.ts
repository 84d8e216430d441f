/**
 * The no-loss promise of REDIS_WAIT_REPLICAS=1 (docs/redis.md, "Failover") on
 * a real Redis Cluster (test/support/redis-topology.ts), with traffic flowing:
 * 36 streams of 9 tenants, 3 tenants on each master, send frames at a client's
 * pace while one master is SIGKILLed. Its replica is promoted and, having no
 * replica of its own, cannot confirm a write: its shard's publishes fail as
 * retryable (WAIT shortfall), the streams' backlogs grow and health is
 * degraded. The killed node is restarted, rejoins as the promoted master's
 * replica, publishes flow again, health is healthy, every stream stops, and
 * every frame `committed` to a client is in its key, byte-exact, once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entryFields } from '../support/field-map';
import { pollUntil } from '../support/http-get';
import { startRedisClusterNodes } from '../support/redis-topology';
import { assertResumedAudioCovers, type StreamProgress } from '../support/resuming-stream';
import {
  healthTimeline,
  repeatedFrames,
  sentStreams,
  startServiceOnTopology,
  streamAll,
} from '../support/topology-streams';

const TENANTS_PER_MASTER = 3;
const STREAMS_PER_TENANT = 4;
/** 20 ms frames, a batch of ACK_INTERVAL (5) every 100 ms: 50 frames a second, about 20 s a stream. */
const FRAMES = 1000;
const BATCH_INTERVAL_MS = 100;

test(
  'Redis Cluster, REDIS_WAIT_REPLICAS=1: a master killed while frames flow loses no committed frame; ' +
    'its shard stalls until a replica is back',
  async (t) => {
    const started = Date.now();
    const redis = await startRedisClusterNodes(t);
    const service = await startServiceOnTopology(t, 'cluster-wait-failover', {
      REDIS_CLUSTER_NODES: redis.seeds.join(','),
      REDIS_WAIT_REPLICAS: '1',
      // The promoted master's shard serialises its publishes behind WAIT: keep each one short.
      REDIS_WAIT_TIMEOUT_MS: '500',
      BUFFER_DURATION_MS: '200',
    });
    const keyOf = (tenant: string): string => `${service.prefix}:{${tenant}}:audio`;

    // TENANTS_PER_MASTER tenants on each master, the victim's first.
    const byMaster = new Map<number, string[]>();
    for (let i = 0; i < 200; i++) {
      const tenant = `tenant-${i}`;
      const master = await redis.masterOf(keyOf(tenant));
      const list = byMaster.get(master) ?? [];
      if (list.length < TENANTS_PER_MASTER) byMaster.set(master, [...list, tenant]);
    }
    assert.deepEqual(
      [...byMaster.values()].map((l) => l.length),
      [TENANTS_PER_MASTER, TENANTS_PER_MASTER, TENANTS_PER_MASTER],
    );
    const victim = [...byMaster.keys()][0];
    const tenants = [...byMaster.values()].flat();
    const sent = sentStreams(tenants.length * STREAMS_PER_TENANT, FRAMES, (i) => tenants[i % tenants.length]);
    const victimTenants = new Set(byMaster.get(victim));
    const onVictim = sent.flatMap((s, i) => (victimTenants.has(s.tenantId) ? [i] : []));
    const progress: StreamProgress[] = sent.map(() => ({ sent: 0, committed: 0 }));
    assert.equal(await service.health(), 'healthy');

    const running = streamAll(t, service, sent, { batchIntervalMs: BATCH_INTERVAL_MS, progress });
    await pollUntil(
      async () => (onVictim.every((i) => progress[i].committed > 0) ? true : undefined),
      'every stream on the master to be killed to get a committed',
      60_000,
      20,
    );
    const atKill = progress.map((p) => ({ ...p }));
    const timeline = await healthTimeline(t, service);
    await redis.node(victim).signal('SIGKILL');
    const killedAt = Date.now();
    await timeline.until('degraded', '/health degraded after the master died');
    await redis.waitUntilHealthy('the replica promoted', false);
    const promoted = await redis.masterOf(keyOf(tenants[0]));
    assert.notEqual(promoted, victim);
    const promotedAt = Date.now();

    // The promoted master has no replica: WAIT confirms nothing, the shard's publishes fail as retryable.
    const victimKeys = [...victimTenants].map(keyOf);
    await service.cluster.waitForLog(
      (e) =>
        e.msg === 'publish failed: retrying' &&
        Date.parse(String(e.time)) >= promotedAt &&
        String(e.err).includes('WAIT: 0 of 1 replicas') &&
        victimKeys.some((key) => String(e.err).includes(key)),
      'a WAIT shortfall on the promoted master',
      60_000,
    );
    // (Health may have been up for an instant: the dead master left the slot map before WAIT first failed.)
    await pollUntil(
      async () => ((await service.health()) === 'degraded' ? true : undefined),
      '/health degraded while the promoted master has no replica',
      30_000,
      50,
    );
    const stalled = progress.map((p) => ({ ...p }));

    const restartedAt = Date.now();
    await redis.node(victim).restart();
    await redis.waitUntilHealthy('the killed node back as a replica of the promoted master');
    assert.match(await redis.node(victim).client.info('replication'), /role:slave/);
    await pollUntil(
      async () => ((await service.health()) === 'healthy' ? true : undefined),
      '/health healthy once the promoted master has a replica',
      60_000,
      50,
    );
    const recoveredAt = Date.now();
    const atRecovery = progress.map((p) => ({ ...p }));
    const results = await running;
    assert.ok(results.every((r) => r.stopped.last_seq === FRAMES));
    // Streams keep running after the ones that finished: health must still be healthy at the end.
    assert.equal(timeline.seen.at(-1), 'healthy', `health went ${timeline.seen.join(' → ')}`);

    // In-flight traffic: a stream of the killed shard had a committed before the kill and sent frames after it.
    const inFlight = onVictim.filter((i) => atKill[i].committed > 0 && progress[i].sent > atKill[i].sent);
    assert.ok(inFlight.length > 0, 'a stream of the killed master kept streaming through the failover');
    assert.ok(
      onVictim.every((i) => atKill[i].sent < FRAMES),
      'every stream of the killed master was still sending when it died',
    );

    let repeats = 0;
    for (const [i, stream] of sent.entries()) {
      const records = (await redis.readKey(keyOf(stream.tenantId)))
        .map(entryFields)
        .filter((f) => f.get('interaction_id')?.toString() === stream.interactionId);
      const committed = Math.max(progress[i].committed, ...results[i].connections.map((c) => c.committed));
      // The promise: every frame up to the last `committed` is there (and, after `stopped`, every frame).
      assertResumedAudioCovers(records, stream, committed);
      repeats += repeatedFrames(records, stream);
    }
    const backlog = Math.max(...onVictim.map((i) => stalled[i].sent - stalled[i].committed));
    const sentAfter = Math.min(...onVictim.map((i) => FRAMES - atRecovery[i].sent));
    const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    t.diagnostic(
      `${onVictim.length} of ${sent.length} streams on the killed master; after the kill: promoted at ` +
        `${s(promotedAt - killedAt)}, restarted at ${s(restartedAt - killedAt)}, ` +
        `healthy at ${s(recoveredAt - killedAt)}; ` +
        `largest sent-but-uncommitted gap with no replica: ${backlog} frames; fewest frames sent after ` +
        `recovery: ${sentAfter}; health went ${timeline.seen.join(' → ')}; frames stored twice: ${repeats}; ` +
        `test ${s(Date.now() - started)}`,
    );
    // REDIS_DEDUPLICATE (the default) and WAIT: the retries landed on a master holding each stored frame's seq.
    assert.equal(repeats, 0, 'no frame stored twice');
    service.cluster.child.kill('SIGTERM');
    assert.equal((await service.cluster.exited).code, 0);
  },
);
