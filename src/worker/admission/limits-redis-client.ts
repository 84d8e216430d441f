/**
 * The one place a worker connects to the Redis that holds the tenant leases
 * (REDIS_URL with redis_streams, else LIMITS_REDIS_URL). A plain client: no
 * offline queue and no resend, so a command fails at once while Redis is
 * unreachable and the lease falls open instead of waiting; each command is
 * bounded by `commandTimeoutMs`.
 */
import { Redis, type Cluster } from 'ioredis';

export interface LimitsRedisTuning {
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

/** Reconnect delay: quick at first, at most 2 s. */
function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, 2000);
}

export function createLimitsRedisClient(url: string, tuning: LimitsRedisTuning): Redis | Cluster {
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: tuning.connectTimeoutMs,
    commandTimeout: tuning.commandTimeoutMs,
    retryStrategy: reconnectDelay,
    disconnectTimeout: 200,
  });
}
