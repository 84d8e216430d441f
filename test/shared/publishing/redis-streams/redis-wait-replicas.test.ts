/**
 * REDIS_WAIT_REPLICAS: a record counts as stored only once WAIT says enough
 * replicas hold it. Against real processes: a master and its replica (the
 * sentinel group's, written to directly), and a Redis Cluster, where WAIT must
 * reach the master that took the write (it rides in the write's pipeline).
 * A frozen replica (SIGSTOP) makes the publish fail as retryable within about
 * the timeout and degrades health; thawed (SIGCONT), the retry is confirmed
 * and the record is stored once. A retry whose script finds the record
 * already stored still waits for the replica, and a lost script cache
 * (NOSCRIPT) sends the write again before the WAIT that confirms it.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  RedisStreamsPublisher,
  replicasConfirmed,
  type RedisStreamsPublisherOptions,
} from '../../../../src/shared/publishing/redis-streams/redis-streams-publisher';
import type { IngestRecord } from '../../../../src/shared/publishing/records';
import { pollUntil } from '../../../support/http-get';
import { isPublishError, stateIs, waitForHealth } from '../../../support/publisher-checks';
import { readStream } from '../../../support/redis';
import { startRedisClusterNodes, startRedisSentinelGroup } from '../../../support/redis-topology';
import { audioRecord, recordBase } from '../../../support/sample-records';
import { uniqueName } from '../../../support/unique-name';

const WAIT_TIMEOUT_MS = 300;

/** A started publisher to `connection` that waits for one replica per record; closed after the test. */
async function waitingPublisher(
  t: TestContext,
  prefix: string,
  connection: Pick<RedisStreamsPublisherOptions, 'url' | 'clusterNodes'>,
): Promise<RedisStreamsPublisher> {
  const publisher = new RedisStreamsPublisher({
    ...connection,
    streamKey: `${prefix}:{tenant_id}`,
    maxlen: 0,
    connectTimeoutMs: 5000,
    waitReplicas: 1,
    waitTimeoutMs: WAIT_TIMEOUT_MS,
  });
  t.after(() => publisher.close());
  await publisher.start();
  return publisher;
}

/**
 * Publishes `record` until WAIT confirms it: what a stream's queue does with a retryable failure. A live replica
 * on a loaded machine can miss one WAIT_TIMEOUT_MS (its ack is late), so a record a test only needs stored is
 * published this way, never once; the record is stored once whatever the retries (the deduplicating script).
 */
function publishConfirmed(publisher: RedisStreamsPublisher, record: IngestRecord, what: string): Promise<unknown> {
  return pollUntil(
    () =>
      publisher.publish(record).then(
        () => true,
        () => undefined,
      ),
    what,
    30_000,
    100,
  );
}

test(
  'WAIT: a frozen replica fails the publish as retryable within the timeout; ' + 'thawed, the retry is confirmed once',
  async (t) => {
    const group = await startRedisSentinelGroup(t);
    const prefix = uniqueName('wait');
    const publisher = await waitingPublisher(t, prefix, { url: `redis://${group.master.address}` });
    const stream = recordBase('tenant-w');
    await publishConfirmed(publisher, audioRecord('tenant-w', 1, Buffer.from('confirmed'), stream), 'first record');

    await group.replica.signal('SIGSTOP');
    t.after(() => group.replica.signal('SIGCONT'));
    const late = audioRecord('tenant-w', 11, Buffer.from('late'), stream);
    const started = Date.now();
    await assert.rejects(
      publisher.publish(late),
      (err) => isPublishError(true)(err) && /WAIT: 0 of 1/.test(String(err)),
    );
    const took = Date.now() - started;
    // The upper bound only says that the publish did not wait for the replica: generous on a loaded machine.
    assert.ok(took >= WAIT_TIMEOUT_MS - 50 && took < WAIT_TIMEOUT_MS + 10_000, `failed after ${took} ms`);
    await waitForHealth(publisher, stateIs('degraded'), 'degraded');

    await group.replica.signal('SIGCONT');
    // The stream's queue retries the record; here the test is that queue.
    await publishConfirmed(publisher, late, 'the retried record confirmed by the replica');
    assert.equal(publisher.health().state, 'up');
    for (const node of [group.master, group.replica]) {
      const entries = await readStream(node.client, `${prefix}:tenant-w`);
      assert.deepEqual(
        entries.map((e) => e.fields.find(([name]) => name === 'payload')?.[1].toString()),
        ['confirmed', 'late'],
        `port ${node.port}: each record once`,
      );
    }
  },
);

test('WAIT after a deduplicated skip waits for the replica: a new connection does not confirm it early', async (t) => {
  const group = await startRedisSentinelGroup(t);
  const prefix = uniqueName('wait-skip');
  const open = (): Promise<RedisStreamsPublisher> =>
    waitingPublisher(t, prefix, { url: `redis://${group.master.address}` });
  const first = await open();
  const stream = recordBase('tenant-s');
  await publishConfirmed(first, audioRecord('tenant-s', 1, Buffer.from('confirmed'), stream), 'first record');

  await group.replica.signal('SIGSTOP');
  t.after(() => group.replica.signal('SIGCONT'));
  const late = audioRecord('tenant-s', 11, Buffer.from('late'), stream);
  // Stored on the master only, and not confirmed: as if its reply had been lost.
  await assert.rejects(first.publish(late), isPublishError(true));
  await first.close();
  // The retry after a reconnect: a fresh connection, whose script finds the record stored and skips it.
  const retry = await open();
  await assert.rejects(
    retry.publish(late),
    (err) => isPublishError(true)(err) && /WAIT: 0 of 1/.test(String(err)),
    'a skipped record is confirmed only once the replica has it',
  );

  await group.replica.signal('SIGCONT');
  await publishConfirmed(retry, late, 'the retried record confirmed by the thawed replica');
  // The master forgets its scripts: the write is sent again, before the WAIT that confirms it.
  await group.master.client.script('FLUSH');
  await publishConfirmed(retry, audioRecord('tenant-s', 21, Buffer.from('reloaded'), stream), 'the reloaded record');
  for (const node of [group.master, group.replica]) {
    const entries = await readStream(node.client, `${prefix}:tenant-s`);
    assert.deepEqual(
      entries.map((e) => e.fields.find(([name]) => name === 'payload')?.[1].toString()),
      ['confirmed', 'late', 'reloaded'],
      `port ${node.port}: each record once`,
    );
  }
});

test('WAIT: a reply that is not an integer count never confirms a record', () => {
  assert.equal(
    replicasConfirmed([
      [null, 1],
      [null, 2],
    ]),
    2,
  );
  for (const count of [Number.NaN, '1', null, undefined, 1.5, [1]]) {
    assert.throws(
      () =>
        replicasConfirmed([
          [null, 1],
          [null, count],
        ]),
      /not a replica count/,
      String(count),
    );
  }
  assert.throws(() => replicasConfirmed(null), /discarded/);
  const writeError = new Error('OOM');
  assert.throws(
    () =>
      replicasConfirmed([
        [writeError, null],
        [null, 1],
      ]),
    (err) => err === writeError,
  );
});

test('WAIT on a Redis Cluster goes to the master that took the write: only its frozen replica fails it', async (t) => {
  const cluster = await startRedisClusterNodes(t);
  const prefix = uniqueName('wait-cluster');
  const publisher = await waitingPublisher(t, prefix, { url: '', clusterNodes: cluster.seeds });
  const slots = await cluster.slots();
  const frozenShard = slots[0];
  // Two tenants: one on the shard whose replica freezes, one elsewhere.
  const tenants = Array.from({ length: 50 }, (_, i) => `tenant-${i}`);
  const shardOf = async (tenant: string): Promise<number> => cluster.masterOf(`${prefix}:{${tenant}}`);
  let frozenTenant: string | undefined;
  let otherTenant: string | undefined;
  for (const tenant of tenants) {
    const master = await shardOf(tenant);
    if (master === frozenShard.master) frozenTenant ??= tenant;
    else otherTenant ??= tenant;
  }
  assert.ok(frozenTenant && otherTenant);
  await cluster.node(frozenShard.replicas[0]).signal('SIGSTOP');
  t.after(() => cluster.node(frozenShard.replicas[0]).signal('SIGCONT'));

  await publishConfirmed(publisher, audioRecord(otherTenant, 1, Buffer.from('elsewhere')), 'the other shard');
  await assert.rejects(publisher.publish(audioRecord(frozenTenant, 1, Buffer.from('frozen'))), isPublishError(true));
  await cluster.node(frozenShard.replicas[0]).signal('SIGCONT');
  await publishConfirmed(
    publisher,
    audioRecord(frozenTenant, 11, Buffer.from('thawed')),
    'a write confirmed once the replica is back',
  );
});
