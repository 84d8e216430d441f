/**
 * How a worker connects to the Redis that holds the tenant leases (the adapter's
 * Redis with redis_streams: one server, a cluster or a sentinel group; else
 * LIMITS_REDIS_URL): through the one factory, with no offline queue and no
 * resend, so a command fails at once while Redis is unreachable and the lease
 * falls open instead of waiting; each command is bounded by `commandTimeoutMs`.
 */
import type { Cluster, Redis } from 'ioredis';
import {
  createRedisClient,
  redisReconnectDelay,
  type RedisConnectionSettings,
} from '../../shared/redis/redis-client-factory';

export interface LimitsRedisTuning {
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

/** A closing lease client has nothing left to wait for: drop its socket quickly. */
const DISCONNECT_TIMEOUT_MS = 200;

export function createLimitsRedisClient(settings: RedisConnectionSettings, tuning: LimitsRedisTuning): Redis | Cluster {
  return createRedisClient(settings, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeoutMs: tuning.connectTimeoutMs,
    commandTimeoutMs: tuning.commandTimeoutMs,
    retryStrategy: redisReconnectDelay,
    disconnectTimeoutMs: DISCONNECT_TIMEOUT_MS,
  });
}
