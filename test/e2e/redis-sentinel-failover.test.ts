/**
 * The service behind real Redis Sentinels (a master, its replica, three
 * redis-sentinel processes: test/support/redis-topology.ts), with
 * REDIS_SENTINELS and REDIS_SENTINEL_NAME. The master is killed (SIGKILL)
 * mid-stream: the sentinels promote the replica, the service follows them on
 * its own (/health degraded, then healthy), and every frame of every stream is
 * on the new master afterwards; repeats are allowed (at least once) and counted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entryFields } from '../support/field-map';
import { readStream } from '../support/redis';
import { startRedisSentinelGroup } from '../support/redis-topology';
import {
  healthTimeline,
  holdAll,
  repeatedFrames,
  sentStreams,
  startServiceOnTopology,
  streamAll,
} from '../support/topology-streams';

test(
  'Redis Sentinel: the master killed mid-stream, the sentinels promote its replica; ' +
    'health degraded, then healthy; no loss',
  async (t) => {
    const group = await startRedisSentinelGroup(t);
    const service = await startServiceOnTopology(t, 'sentinel-failover', {
      REDIS_SENTINELS: group.addresses.join(','),
      REDIS_SENTINEL_NAME: group.name,
    });
    const sent = sentStreams(8, 60, (i) => `tenant-${i}`);
    assert.equal(await service.health(), 'healthy');

    // Every stream sends 20 frames, then waits; the master dies; the rest flows while the replica takes over.
    const parked = holdAll(sent.length, 21);
    const running = streamAll(t, service, sent, { hold: parked.hold });
    await parked.reached;
    const timeline = await healthTimeline(t, service);
    await group.master.signal('SIGKILL');
    parked.release();
    await timeline.until('degraded', '/health degraded after the master died');
    await group.waitForMaster(group.replica.port, 'the sentinels to promote the replica');
    await timeline.until('healthy', '/health healthy again').catch((err: Error) => {
      const said = service.cluster
        .logs()
        .filter((e) => e.level === 'warn' || e.level === 'error')
        .slice(-20)
        .map((e) => JSON.stringify(e));
      throw new Error(`${err.message}; the service's last warnings:\n${said.join('\n')}`, { cause: err });
    });
    const results = await running;
    assert.ok(results.every((r) => r.stopped.last_seq === 60));
    assert.equal(timeline.seen.at(-1), 'healthy', `health went ${timeline.seen.join(' → ')}`);

    let repeats = 0;
    for (const stream of sent) {
      const records = (await readStream(group.replica.client, `${service.prefix}:${stream.tenantId}:audio`))
        .map(entryFields)
        .filter((f) => f.get('interaction_id')?.toString() === stream.interactionId);
      repeats += repeatedFrames(records, stream);
    }
    t.diagnostic(`frames stored twice after the failover: ${repeats}`);
    service.cluster.child.kill('SIGTERM');
    assert.equal((await service.cluster.exited).code, 0);
  },
);
