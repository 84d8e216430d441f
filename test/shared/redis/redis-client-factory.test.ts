/**
 * The options the one Redis factory hands ioredis (redisClientPlan): what each
 * topology's connections are told about TLS and the slot map's refresh; and the
 * guard that starts a sentinel client again after ioredis ended it unasked.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import {
  reconnectAfterUnaskedEnd,
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

/** A client as reconnectAfterUnaskedEnd sees it: events, a status, and connect() counted. */
class FakeClient extends EventEmitter {
  status = 'wait';
  connects = 0;
  private connected: () => void = () => undefined;
  readonly reconnected = new Promise<void>((resolve) => (this.connected = resolve));
  connect(): Promise<void> {
    this.connects++;
    this.status = 'ready';
    this.connected();
    return Promise.resolve();
  }
  end(): void {
    this.status = 'end';
    this.emit('end');
  }
}

test('a sentinel client ioredis ended unasked after it was ready is started again on the retry schedule', async () => {
  const client = new FakeClient();
  const delays: number[] = [];
  reconnectAfterUnaskedEnd(
    client,
    (attempt) => (delays.push(attempt), 1),
    () => false,
  );
  client.emit('ready');
  client.end();
  // The guard's timer is unref'd (it must not keep a service alive); here nothing else holds the loop.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    await client.reconnected;
  } finally {
    clearInterval(keepAlive);
  }
  assert.equal(client.connects, 1);
  assert.deepEqual(delays, [1]);
});

test('an end its owner asked for, or one before the client was ever ready, is final', () => {
  const asked = new FakeClient();
  const retries: number[] = [];
  reconnectAfterUnaskedEnd(
    asked,
    (attempt) => (retries.push(attempt), 1),
    () => true,
  );
  asked.emit('ready');
  asked.end();
  const neverReady = new FakeClient();
  reconnectAfterUnaskedEnd(
    neverReady,
    (attempt) => (retries.push(attempt), 1),
    () => false,
  );
  neverReady.end();
  // Scheduling happens in the 'end' listener itself: no retry asked for means no timer.
  assert.deepEqual(retries, []);
});
