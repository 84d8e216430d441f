/** Where MAX_STREAMS_PER_TENANT's leases live, from the configuration (docs/operations.md). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/shared/config/config';
import { singleServer } from '../../../src/shared/redis/redis-client-factory';
import { leaseCallTimeoutMs, leaseLocation } from '../../../src/worker/admission/tenant-lease-store';

const REDIS = 'redis://127.0.0.1:6379';
const LIMITS = 'redis://limits.example:6379';

test("leases live in the adapter's Redis with redis_streams, else in LIMITS_REDIS_URL, else in the primary", () => {
  const adapterRedis = { ...singleServer(REDIS), redisClusterNodes: ['127.0.0.1:7000'] };
  const base = { ...adapterRedis, maxStreamsPerTenant: 4, limitsRedisUrl: LIMITS } as const;
  // The adapter's topology, whatever it is (here a cluster), holds the leases.
  assert.deepEqual(leaseLocation({ ...base, pubsubAdapter: 'redis_streams' }), {
    kind: 'redis',
    settings: adapterRedis,
    via: 'adapter',
  });
  assert.deepEqual(leaseLocation({ ...base, pubsubAdapter: 'kafka' }), {
    kind: 'redis',
    settings: singleServer(LIMITS),
    via: 'LIMITS_REDIS_URL',
  });
  assert.deepEqual(leaseLocation({ ...base, pubsubAdapter: 'in_memory', limitsRedisUrl: '' }), { kind: 'primary' });
  assert.deepEqual(leaseLocation({ ...base, pubsubAdapter: 'redis_streams', maxStreamsPerTenant: 0 }), {
    kind: 'off',
  });
});

test('a lease call is bounded by 1 s, or a third of a shorter lease period', () => {
  assert.equal(leaseCallTimeoutMs(15_000), 1000);
  assert.equal(leaseCallTimeoutMs(900), 300);
});

test('the tenant-limit settings validate; LIMITS_REDIS_URL with redis_streams is ignored, said once', () => {
  const result = loadConfig({
    PUBSUB_ADAPTER: 'redis_streams',
    REDIS_URL: REDIS,
    LIMITS_REDIS_URL: LIMITS,
    MAX_STREAMS_PER_TENANT: '4',
    TENANT_LEASE_TTL_MS: '3000',
  });
  assert.ok(result.ok);
  assert.equal(result.config.maxStreamsPerTenant, 4);
  assert.equal(result.config.tenantLeaseTtlMs, 3000);
  assert.equal(result.config.tenantLeaseKeyPrefix, 'ingest:stream_leases:');
  assert.equal(result.warnings.filter((w) => w.startsWith('LIMITS_REDIS_URL is ignored')).length, 1);
  const bad = loadConfig({ TENANT_LEASE_TTL_MS: '10', LIMITS_REDIS_URL: 'http://x' });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.variable).sort(), ['LIMITS_REDIS_URL', 'TENANT_LEASE_TTL_MS']);
});
