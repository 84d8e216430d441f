/**
 * validate:deployment's Redis check: with PUBSUB_ADAPTER=redis_streams, Redis
 * must answer within BACKEND_CONNECT_TIMEOUT_MS, the time a worker waits for it
 * at start before it reports a start-up failure. The connection comes from the
 * service's own factory, so each topology is probed as the workers reach it:
 * REDIS_URL answers PING; a Redis Cluster answers CLUSTER INFO with
 * cluster_state:ok; the sentinels name a master, which answers PING.
 */
import type { Cluster, default as Redis } from 'ioredis';
import type { Config } from '../../shared/config/config-schema';
import { errorMessage } from '../../shared/errors';
import {
  createRedisClient,
  dropRedisClient,
  describeRedisTarget,
  redisRedactor,
  redisTopology,
  type RedisConnectionSettings,
} from '../../shared/redis/redis-client-factory';
import { configuredOr, runProbe, within, type Verdict } from './verdict';

const SETTING = { single: 'REDIS_URL', cluster: 'REDIS_CLUSTER_NODES', sentinel: 'REDIS_SENTINELS' } as const;
const QUESTION = { single: 'PING', cluster: 'CLUSTER INFO', sentinel: 'a master name and PING' } as const;

/** What each topology must answer; resolves with what the green line says. */
async function check(redis: Redis | Cluster, settings: RedisConnectionSettings): Promise<string> {
  await redis.connect();
  const topology = redisTopology(settings);
  if (topology === 'cluster') {
    const info = String(await redis.cluster('INFO'));
    const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
    if (state !== 'ok') throw new Error(`CLUSTER INFO says cluster_state:${state}`);
    return 'answered CLUSTER INFO with cluster_state:ok';
  }
  await redis.ping();
  if (topology === 'single') return 'answered PING';
  const stream = (redis as Redis).stream;
  return `named master ${stream.remoteAddress ?? '?'}:${stream.remotePort ?? '?'}, which answered PING`;
}

async function probeRedis(settings: RedisConnectionSettings, timeoutMs: number): Promise<Verdict> {
  const setting = SETTING[redisTopology(settings)];
  const question = QUESTION[redisTopology(settings)];
  const target = describeRedisTarget(settings);
  const redact = redisRedactor(settings);
  const redis = createRedisClient(settings, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeoutMs: timeoutMs,
    retryStrategy: () => null, // one attempt: the verdict is about now
  });
  // The socket's own error (ECONNREFUSED, ETIMEDOUT) says more than the rejection's "Connection is closed".
  let socketError: unknown;
  const remember = (err: Error): void => void (socketError = err);
  redis.on('error', remember);
  redis.on('node error', remember);
  const started = Date.now();
  try {
    const what = await within(check(redis, settings), timeoutMs, question);
    return { level: 'green', message: `${setting} ${target} ${what} in ${Date.now() - started} ms` };
  } catch (err) {
    return {
      level: 'red',
      message:
        `${setting} ${target} did not answer ${question} within BACKEND_CONNECT_TIMEOUT_MS (${timeoutMs} ms): ` +
        `${redact(errorMessage(socketError ?? err)).replace(/\.$/, '')}; ` +
        `start Redis or correct ${setting} (host, port, password, firewall)`,
    };
  } finally {
    dropRedisClient(redis);
  }
}

function settingsOf(config: Readonly<Config>): RedisConnectionSettings {
  const { redisUrl, redisClusterNodes, redisSentinels, redisSentinelName, redisSentinelPassword } = config;
  return { redisUrl, redisClusterNodes, redisSentinels, redisSentinelName, redisSentinelPassword };
}

runProbe(() =>
  configuredOr((config) =>
    config.pubsubAdapter === 'redis_streams'
      ? probeRedis(settingsOf(config), config.backendConnectTimeoutMs)
      : { level: 'skip', message: `not used (PUBSUB_ADAPTER=${config.pubsubAdapter})` },
  ),
);
