/**
 * The service on a real Redis Cluster (3 masters + 3 replicas of Debian's
 * redis-server, test/support/redis-topology.ts) with
 * REDIS_STREAM_KEY=<prefix>:{tenant_id}:audio: each tenant's records stay in
 * its tag's slot. 100 tenants' calls are read back byte-exact, shard by shard
 * (each key from the master serving it). Then a master is killed (SIGKILL)
 * mid-stream: its replica is promoted, the service finds it on its own
 * (/health degraded, then healthy) and every frame of every stream is there
 * afterwards; repeats are allowed (at least once) and counted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entryFields, type FieldMap } from '../support/field-map';
import { startRedisClusterNodes } from '../support/redis-topology';
import { assertAudioCovers, byInteraction } from '../support/stream-check';
import {
  healthTimeline,
  holdAll,
  repeatedFrames,
  sentStreams,
  startServiceOnTopology,
  streamAll,
} from '../support/topology-streams';

test(
  "Redis Cluster: 100 tenants' calls read back byte-exact from the master of each tenant's slot, " + 'all 3 used',
  async (t) => {
    const redis = await startRedisClusterNodes(t);
    const service = await startServiceOnTopology(t, 'cluster-100', { REDIS_CLUSTER_NODES: redis.seeds.join(',') });
    const sent = sentStreams(100, 20, (i) => `tenant-${i}`);
    await streamAll(t, service, sent, { concurrency: 20 });

    const masters = new Set<number>();
    for (const stream of sent) {
      const key = `${service.prefix}:{${stream.tenantId}}:audio`;
      masters.add(await redis.masterOf(key));
      const records = byInteraction(await redis.readKey(key)).get(stream.interactionId) ?? [];
      assertAudioCovers(records, stream, 20);
    }
    assert.equal(masters.size, 3, 'the tenants spread over every master');
    service.cluster.child.kill('SIGTERM');
    assert.equal((await service.cluster.exited).code, 0);
  },
);

test(
  'Redis Cluster: a master killed mid-stream, its replica promoted; ' + 'health degraded, then healthy; no loss',
  async (t) => {
    const redis = await startRedisClusterNodes(t);
    const service = await startServiceOnTopology(t, 'cluster-failover', { REDIS_CLUSTER_NODES: redis.seeds.join(',') });
    const sent = sentStreams(12, 60, (i) => `tenant-${i}`);
    const keyOf = (tenant: string): string => `${service.prefix}:{${tenant}}:audio`;
    const victim = await redis.masterOf(keyOf(sent[0].tenantId));
    const onVictim = (
      await Promise.all(sent.map(async (s) => (await redis.masterOf(keyOf(s.tenantId))) === victim))
    ).filter(Boolean).length;
    assert.equal(await service.health(), 'healthy');

    // Every stream sends 20 frames, then waits; the master dies; the rest flows while its replica takes over.
    const parked = holdAll(sent.length, 21);
    const running = streamAll(t, service, sent, { hold: parked.hold });
    await parked.reached;
    const timeline = await healthTimeline(t, service);
    await redis.node(victim).signal('SIGKILL');
    parked.release();
    await timeline.until('degraded', '/health degraded after the master died');
    await timeline.until('healthy', '/health healthy again');
    // A dead master keeps its slots in the map until its replica is promoted: healthy must not come before.
    assert.notEqual(await redis.masterOf(keyOf(sent[0].tenantId)), victim, 'healthy only once the replica is master');
    await redis.waitUntilHealthy('the replica promoted', false);
    assert.equal(timeline.seen.at(-1), 'healthy', `health went ${timeline.seen.join(' → ')}`);
    const results = await running;
    assert.ok(results.every((r) => r.stopped.last_seq === 60));

    let repeats = 0;
    for (const stream of sent) {
      const records: FieldMap[] = (await redis.readKey(keyOf(stream.tenantId)))
        .map(entryFields)
        .filter((f) => f.get('interaction_id')?.toString() === stream.interactionId);
      repeats += repeatedFrames(records, stream);
    }
    assert.notEqual(await redis.masterOf(keyOf(sent[0].tenantId)), victim, 'the promoted replica serves the slot');
    t.diagnostic(`${onVictim} of ${sent.length} streams were on the killed master; frames stored twice: ${repeats}`);
    service.cluster.child.kill('SIGTERM');
    assert.equal((await service.cluster.exited).code, 0);
  },
);
