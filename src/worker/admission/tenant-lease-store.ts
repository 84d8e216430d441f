/**
 * Where MAX_STREAMS_PER_TENANT's leases are kept, and the seam every place
 * implements: PUBSUB_ADAPTER=redis_streams → the adapter's Redis (REDIS_URL,
 * REDIS_CLUSTER_NODES or REDIS_SENTINELS);
 * otherwise LIMITS_REDIS_URL when set; otherwise the primary, which counts per
 * instance over IPC. MAX_STREAMS_PER_TENANT=0: no store at all.
 */
import type { Config } from '../../shared/config/config-schema';
import type { WorkerToPrimary } from '../../shared/process/ipc';
import { singleServer, type RedisConnectionSettings } from '../../shared/redis/redis-client-factory';
import { createLimitsRedisClient } from './limits-redis-client';
import { PRIMARY_LEASE_TIMEOUT_MS, PrimaryLeaseStore } from './primary-lease-store';
import { RedisLeaseStore } from './redis-lease-store';

/** A place that keeps leases. Every method may reject when the place cannot answer (the caller fails open). */
export interface TenantLeaseStore {
  readonly kind: 'redis' | 'primary';
  /** Leases that expire unless renewed (Redis); the primary's live as long as the worker. */
  readonly expires: boolean;
  /** Why the store's connection last failed (Redis's socket error), for the outage log; undefined if it never did. */
  readonly connectionError?: string;
  start(): Promise<void>;
  /** True when `leaseId` was added within the limit (or was held already), false at the limit. */
  acquire(tenant: string, leaseId: string): Promise<boolean>;
  /** Pushes the expiry of `leaseIds` one lease period on; resolves with how many were missing (added again). */
  renew(tenant: string, leaseIds: readonly string[]): Promise<number>;
  release(tenant: string, leaseIds: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export type LeaseLocation =
  | { readonly kind: 'off' }
  | { readonly kind: 'redis'; readonly settings: RedisConnectionSettings; readonly via: 'adapter' | 'LIMITS_REDIS_URL' }
  | { readonly kind: 'primary' };

/** The deadline of one call to the store: past it the stream is admitted without a lease (fail open). */
export const LEASE_CALL_TIMEOUT_MS = 1000;

/** Where this configuration keeps the leases. */
export function leaseLocation(
  config: Pick<Config, 'maxStreamsPerTenant' | 'pubsubAdapter' | 'limitsRedisUrl'> & RedisConnectionSettings,
): LeaseLocation {
  if (config.maxStreamsPerTenant === 0) return { kind: 'off' };
  if (config.pubsubAdapter === 'redis_streams') {
    const { redisUrl, redisClusterNodes, redisSentinels, redisSentinelName, redisSentinelPassword } = config;
    const settings = { redisUrl, redisClusterNodes, redisSentinels, redisSentinelName, redisSentinelPassword };
    return { kind: 'redis', settings, via: 'adapter' };
  }
  if (config.limitsRedisUrl)
    return { kind: 'redis', settings: singleServer(config.limitsRedisUrl), via: 'LIMITS_REDIS_URL' };
  return { kind: 'primary' };
}

/** The store for `config`, or undefined when MAX_STREAMS_PER_TENANT is 0. */
export function createTenantLeaseStore(
  config: Readonly<Config>,
  sendToPrimary: (body: WorkerToPrimary) => boolean,
): TenantLeaseStore | undefined {
  const location = leaseLocation(config);
  const callTimeoutMs = leaseCallTimeoutMs(config.tenantLeaseTtlMs);
  switch (location.kind) {
    case 'off':
      return undefined;
    case 'primary':
      return new PrimaryLeaseStore(sendToPrimary, config.maxStreamsPerTenant, PRIMARY_LEASE_TIMEOUT_MS);
    case 'redis':
      return new RedisLeaseStore(
        createLimitsRedisClient(location.settings, {
          connectTimeoutMs: config.backendConnectTimeoutMs,
          commandTimeoutMs: callTimeoutMs,
        }),
        { keyPrefix: config.tenantLeaseKeyPrefix, limit: config.maxStreamsPerTenant, ttlMs: config.tenantLeaseTtlMs },
      );
  }
}

/**
 * A Redis call's deadline: LEASE_CALL_TIMEOUT_MS, or a third of a shorter lease
 * period (a renewal must end before the next one). The primary's leases have no
 * period: PRIMARY_LEASE_TIMEOUT_MS.
 */
export function leaseCallTimeoutMs(ttlMs: number): number {
  return Math.min(LEASE_CALL_TIMEOUT_MS, Math.floor(ttlMs / 3));
}
