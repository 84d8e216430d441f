/**
 * MAX_STREAMS_PER_TENANT's lease store against the real Redis: the limit, the
 * release, the expiry a killed instance relies on, the renewal, a lease
 * re-added after it expired, tenants apart, and one key per tenant that
 * disappears when idle; and the same store on a real Redis Cluster, and
 * through real sentinels, whose connections close() releases too.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { singleServer } from '../../../src/shared/redis/redis-client-factory';
import { createLimitsRedisClient } from '../../../src/worker/admission/limits-redis-client';
import { RedisLeaseStore, tenantLeaseKey } from '../../../src/worker/admission/redis-lease-store';
import { pollUntil } from '../../support/http-get';
import { redisScratch, REDIS_URL } from '../../support/redis';
import { startRedisClusterNodes, startRedisSentinelGroup, type RedisProcess } from '../../support/redis-topology';

async function storeFor(
  t: TestContext,
  options: { limit: number; ttlMs: number },
): Promise<{ store: RedisLeaseStore; prefix: string; members: (tenant: string) => Promise<string[]> }> {
  const { admin, prefix } = redisScratch(t, 'leases');
  const keyPrefix = `${prefix}:stream_leases:`;
  const store = new RedisLeaseStore(
    createLimitsRedisClient(singleServer(REDIS_URL), { connectTimeoutMs: 2000, commandTimeoutMs: 1000 }),
    { keyPrefix, ...options },
  );
  t.after(() => store.close());
  await store.start();
  return {
    store,
    prefix: keyPrefix,
    members: async (tenant) => (await admin.zrange(tenantLeaseKey(keyPrefix, tenant), '0', '-1')).sort(),
  };
}

test('acquire adds leases up to the limit, then refuses; a lease held already is granted again', async (t) => {
  const { store, members } = await storeFor(t, { limit: 2, ttlMs: 60_000 });
  assert.equal(await store.acquire('tenant-a', 'a1'), true);
  assert.equal(await store.acquire('tenant-a', 'a2'), true);
  assert.equal(await store.acquire('tenant-a', 'a3'), false);
  assert.equal(await store.acquire('tenant-a', 'a2'), true, 'a retried acquire of a held lease');
  assert.deepEqual(await members('tenant-a'), ['a1', 'a2']);
});

test('release frees a slot for the next acquire; the last release leaves no key', async (t) => {
  const { store, members } = await storeFor(t, { limit: 1, ttlMs: 60_000 });
  assert.equal(await store.acquire('tenant-a', 'a1'), true);
  assert.equal(await store.acquire('tenant-a', 'a2'), false);
  await store.release('tenant-a', ['a1']);
  assert.equal(await store.acquire('tenant-a', 'a2'), true);
  await store.release('tenant-a', ['a2']);
  assert.deepEqual(await members('tenant-a'), []);
});

test('tenants are independent: one at its limit leaves another unaffected', async (t) => {
  const { store } = await storeFor(t, { limit: 1, ttlMs: 60_000 });
  assert.equal(await store.acquire('tenant-a', 'a1'), true);
  assert.equal(await store.acquire('tenant-a', 'a2'), false);
  assert.equal(await store.acquire('tenant-b', 'b1'), true);
});

test("an unrenewed lease expires within one TTL on Redis's clock: its slot is free again, its key gone", async (t) => {
  const TTL_MS = 400;
  const { store, prefix } = await storeFor(t, { limit: 1, ttlMs: TTL_MS });
  const { admin } = redisScratch(t, 'leases-admin');
  assert.equal(await store.acquire('tenant-a', 'killed'), true);
  const pttl = await admin.pttl(tenantLeaseKey(prefix, 'tenant-a'));
  assert.ok(pttl > 0 && pttl <= TTL_MS, `the key expires with its lease (PTTL ${pttl})`);
  await pollUntil(
    async () => ((await store.acquire('tenant-a', 'next')) ? true : undefined),
    'the expired lease to free its slot',
    TTL_MS * 10,
  );
});

test('renew keeps leases alive past the TTL and re-adds (and counts) one found missing', async (t) => {
  const TTL_MS = 400;
  const { store, members, prefix } = await storeFor(t, { limit: 2, ttlMs: TTL_MS });
  const { admin } = redisScratch(t, 'leases-admin');
  assert.equal(await store.acquire('tenant-a', 'a1'), true);
  assert.equal(await store.acquire('tenant-a', 'a2'), true);
  const until = Date.now() + TTL_MS * 3;
  while (Date.now() < until) {
    assert.equal(await store.renew('tenant-a', ['a1', 'a2']), 0);
    await new Promise((resolve) => setTimeout(resolve, TTL_MS / 4));
  }
  assert.deepEqual(await members('tenant-a'), ['a1', 'a2'], 'both alive after three lease periods');
  // A partition longer than the TTL: the store lost a1 (as expiry would).
  await admin.zrem(tenantLeaseKey(prefix, 'tenant-a'), 'a1');
  assert.equal(await store.renew('tenant-a', ['a1', 'a2']), 1, 'one lease was missing');
  assert.deepEqual(await members('tenant-a'), ['a1', 'a2']);
  assert.equal(await store.acquire('tenant-a', 'a3'), false, 'the re-added lease counts again');
});

test('the key layout is Redis-Cluster safe: one key per tenant, the tenant as its hash tag', () => {
  assert.equal(tenantLeaseKey('ingest:stream_leases:', 'acme'), 'ingest:stream_leases:{acme}');
});

test('on a real Redis Cluster (REDIS_CLUSTER_NODES), tenants on every master keep their limits', async (t) => {
  const cluster = await startRedisClusterNodes(t);
  const settings = { ...singleServer(''), redisClusterNodes: cluster.seeds };
  const keyPrefix = `leases-${process.pid}:`;
  const store = new RedisLeaseStore(
    createLimitsRedisClient(settings, { connectTimeoutMs: 5000, commandTimeoutMs: 2000 }),
    { keyPrefix, limit: 2, ttlMs: 60_000 },
  );
  t.after(() => store.close());
  await store.start();
  const tenants = Array.from({ length: 12 }, (_, i) => `tenant-${i}`);
  const masters = new Set(
    await Promise.all(tenants.map((tenant) => cluster.masterOf(tenantLeaseKey(keyPrefix, tenant)))),
  );
  assert.equal(masters.size, 3, "the tenants' keys spread over all three masters");
  for (const tenant of tenants) {
    assert.equal(await store.acquire(tenant, `${tenant}-1`), true);
    assert.equal(await store.acquire(tenant, `${tenant}-2`), true);
    assert.equal(await store.acquire(tenant, `${tenant}-3`), false, `${tenant} at its limit`);
    assert.equal(await store.renew(tenant, [`${tenant}-1`, `${tenant}-2`]), 0);
    await store.release(tenant, [`${tenant}-1`]);
    assert.equal(await store.acquire(tenant, `${tenant}-3`), true, `${tenant}: the released slot is free`);
  }
});

/** Connections subscribed on `sentinel`: a client's failover watch (failoverDetector), never a sentinel's links. */
async function subscribersOn(sentinel: RedisProcess): Promise<number> {
  const list = String(await sentinel.client.call('CLIENT', 'LIST'));
  return list.split('\n').filter((line) => / sub=[1-9]| psub=[1-9]/.test(line)).length;
}

test('close() through sentinels leaves no connection behind: neither the master nor the sentinels', async (t) => {
  const group = await startRedisSentinelGroup(t);
  const settings = { ...singleServer(''), redisSentinels: group.addresses, redisSentinelName: group.name };
  const store = new RedisLeaseStore(
    createLimitsRedisClient(settings, { connectTimeoutMs: 5000, commandTimeoutMs: 2000 }),
    { keyPrefix: `leases-${process.pid}:`, limit: 1, ttlMs: 60_000 },
  );
  t.after(() => store.close());
  await store.start();
  assert.equal(await store.acquire('tenant-a', 'lease-1'), true);
  const watching = async (): Promise<number> =>
    (await Promise.all(group.sentinels.map(subscribersOn))).reduce((a, b) => a + b, 0);
  await pollUntil(
    async () => ((await watching()) > 0 ? true : undefined),
    'the store watching the sentinels',
    20_000,
    100,
  );
  const clientsOnMaster = async (): Promise<number> =>
    String(await group.master.client.call('CLIENT', 'LIST'))
      .split('\n')
      // Not this test's own client, the replica's link (flags=S) or the sentinels' (named sentinel-…).
      .filter((line) => /^id=/.test(line) && !/ cmd=client\|list| flags=S | name=sentinel-/.test(line)).length;
  await store.close();
  await pollUntil(async () => ((await watching()) === 0 ? true : undefined), 'no failover watch left', 10_000, 100);
  await pollUntil(
    async () => ((await clientsOnMaster()) === 0 ? true : undefined),
    'no store connection left on the master',
    10_000,
    100,
  );
});
