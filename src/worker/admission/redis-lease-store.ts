/**
 * MAX_STREAMS_PER_TENANT's leases in Redis, shared by every worker of every
 * instance (docs/operations.md, "Tenant stream limits"). One sorted set per
 * tenant, `<TENANT_LEASE_KEY_PREFIX>{<tenant>}`: member = a lease id unique
 * across the fleet, score = its expiry in ms on Redis's own clock (TIME inside
 * the scripts: the instances' clocks may disagree). Every command touches that
 * one key, so the layout is safe on Redis Cluster (the tenant is the hash tag).
 *
 * - acquire: one script drops the expired members, counts, adds below the limit.
 * - renew: one script per tenant pushes the expiry of every lease a worker
 *   holds; a lease found missing (expired during a partition longer than the
 *   TTL) is added again, and the script says how many were.
 * - release: ZREM.
 * Each write PEXPIREs the key to its latest lease's expiry, so an idle tenant's
 * key disappears by itself, and a killed instance's leases within one TTL.
 */
import type { Cluster, Redis, Result } from 'ioredis';
import { closeRedisClient } from '../../shared/redis/redis-client-factory';
import type { TenantLeaseStore } from './tenant-lease-store';

/** Redis's clock in ms, the expired leases dropped, then the key's expiry after a write (shared by both scripts). */
const NOW_AND_SWEEP = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[1])
local function keep_key()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now)) end
end
`;

/** KEYS[1] the tenant's set; ARGV: ttl ms, limit, lease id. Returns 1 (added or already held) or 0 (at the limit). */
export const ACQUIRE_LEASE_LUA = `${NOW_AND_SWEEP}
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
keep_key()
return 1
`;

/** KEYS[1] the tenant's set; ARGV: ttl ms, then lease ids. Returns how many were missing (added again). */
export const RENEW_LEASES_LUA = `${NOW_AND_SWEEP}
local missing = 0
for i = 2, #ARGV do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then missing = missing + 1 end
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
end
keep_key()
return missing
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** ACQUIRE_LEASE_LUA. */
    acquireTenantLease(key: string, ttlMs: string, limit: string, leaseId: string): Result<number, Context>;
    /** RENEW_LEASES_LUA. */
    renewTenantLeases(key: string, ttlMs: string, ...leaseIds: string[]): Result<number, Context>;
  }
}

export interface RedisLeaseStoreOptions {
  readonly keyPrefix: string;
  readonly limit: number;
  readonly ttlMs: number;
}

/** The key of a tenant's leases: the tenant is the hash tag, so a cluster keeps each tenant's set on one slot. */
export function tenantLeaseKey(prefix: string, tenant: string): string {
  return `${prefix}{${tenant}}`;
}

export class RedisLeaseStore implements TenantLeaseStore {
  readonly kind = 'redis';
  readonly expires = true;
  private readonly ttl: string;
  private readonly limit: string;
  private lastConnectionError: string | undefined;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly options: RedisLeaseStoreOptions,
  ) {
    this.ttl = String(options.ttlMs);
    this.limit = String(options.limit);
    // defineCommand: EVALSHA, and EVAL once when Redis lacks the script (after a restart or a failover).
    redis.defineCommand('acquireTenantLease', { numberOfKeys: 1, lua: ACQUIRE_LEASE_LUA });
    redis.defineCommand('renewTenantLeases', { numberOfKeys: 1, lua: RENEW_LEASES_LUA });
    // Failures reach the caller through the commands (the client reconnects by itself); the cause is kept
    // for the outage's log line (tenant-stream-leases.ts), logged once per outage there, not per retry.
    redis.on('error', (err: Error) => {
      this.lastConnectionError = err.message;
    });
  }

  get connectionError(): string | undefined {
    return this.lastConnectionError;
  }

  async start(): Promise<void> {
    await this.redis.connect();
  }

  async acquire(tenant: string, leaseId: string): Promise<boolean> {
    return (await this.redis.acquireTenantLease(this.key(tenant), this.ttl, this.limit, leaseId)) === 1;
  }

  renew(tenant: string, leaseIds: readonly string[]): Promise<number> {
    return this.redis.renewTenantLeases(this.key(tenant), this.ttl, ...leaseIds);
  }

  async release(tenant: string, leaseIds: readonly string[]): Promise<void> {
    await this.redis.zrem(this.key(tenant), ...leaseIds);
  }

  /** QUIT, bounded, then disconnect: also the sentinel connections of a sentinel-mode client (factory). */
  async close(): Promise<void> {
    await closeRedisClient(this.redis);
  }

  private key(tenant: string): string {
    return tenantLeaseKey(this.options.keyPrefix, tenant);
  }
}
