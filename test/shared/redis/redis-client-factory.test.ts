/**
 * The options the one Redis factory hands ioredis (redisClientPlan): what each
 * topology's connections are told about TLS and the slot map's refresh.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  redisClientPlan,
  redisReconnectDelay,
  singleServer,
  type RedisClientTuning,
} from '../../../src/shared/redis/redis-client-factory';

const TUNING: RedisClientTuning = {
  connectTimeoutMs: 1000,
  retryStrategy: redisReconnectDelay,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  lazyConnect: true,
};

function sentinelOptions(url: string): Record<string, unknown> {
  const plan = redisClientPlan(
    { ...singleServer(url), redisSentinels: ['127.0.0.1:26379'], redisSentinelName: 'main' },
    TUNING,
  );
  assert.equal(plan.topology, 'sentinel');
  return plan.options as Record<string, unknown>;
}

test('sentinel mode with a rediss: REDIS_URL reaches the sentinels, the master and its replicas over TLS', () => {
  const options = sentinelOptions('rediss://user:secret@ignored:6380');
  assert.deepEqual(options.sentinelTLS, {}, 'the sentinels (ioredis SentinelConnector: sentinelTLS)');
  assert.equal(options.enableTLSForSentinelMode, true, 'the master and replicas it names');
  assert.deepEqual(options.tls, {});
  assert.equal(options.password, 'secret');
});

test('sentinel mode with a redis: REDIS_URL or none uses no TLS anywhere', () => {
  for (const url of ['redis://ignored:6379', '']) {
    const options = sentinelOptions(url);
    assert.equal(options.sentinelTLS, undefined, url);
    assert.equal(options.enableTLSForSentinelMode, false, url);
    assert.equal(options.tls, undefined, url);
  }
});

test('cluster mode refreshes the slot map every 5 s (ioredis default) unless the caller says otherwise', () => {
  const settings = { ...singleServer('rediss://ignored'), redisClusterNodes: ['127.0.0.1:7000', '[::1]:7001'] };
  const plan = redisClientPlan(settings, TUNING);
  assert.equal(plan.topology, 'cluster');
  assert.equal(plan.options.slotsRefreshInterval, 5000);
  assert.deepEqual(plan.nodes, [
    { host: '127.0.0.1', port: 7000 },
    { host: '::1', port: 7001 },
  ]);
  assert.deepEqual(plan.options.redisOptions?.tls, {});
  const faster = redisClientPlan(settings, { ...TUNING, slotsRefreshIntervalMs: 250 });
  assert.equal(faster.topology === 'cluster' && faster.options.slotsRefreshInterval, 250);
});
