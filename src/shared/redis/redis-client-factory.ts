/**
 * The one place Redis connections are made (docs/redis.md): a single server
 * (REDIS_URL), a Redis Cluster (REDIS_CLUSTER_NODES) or a master found through
 * Redis Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME). The adapter, the
 * deployment probe and any other Redis user call it, so the three topologies
 * keep one failure policy: the caller's tuning (timeouts, reconnect backoff,
 * offline queue, per-request retries) means the same thing in each.
 *
 * In cluster and sentinel modes REDIS_URL is optional and names no node: only
 * its scheme (rediss: → TLS), user name and password are used, for every node
 * (and for the sentinels' TLS).
 */
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from '../config/config-schema';

export type RedisConnectionSettings = Pick<
  Config,
  'redisUrl' | 'redisClusterNodes' | 'redisSentinels' | 'redisSentinelName' | 'redisSentinelPassword'
>;

export type RedisTopology = 'single' | 'cluster' | 'sentinel';

/** What the caller decides about failures, the same in every topology. */
export interface RedisClientTuning {
  /** Bound on each connect attempt. */
  readonly connectTimeoutMs: number;
  /** Bound on one command's round trip (undefined: none). */
  readonly commandTimeoutMs?: number;
  /** Delay before reconnect attempt `attempt` (1-based); null gives up. */
  readonly retryStrategy: (attempt: number) => number | null;
  /** false: commands issued while disconnected reject at once. */
  readonly enableOfflineQueue: boolean;
  /**
   * 0: a command in flight when its connection drops rejects at once, and a
   * cluster does not resend it to another node (no per-request retries).
   */
  readonly maxRetriesPerRequest: number;
  readonly lazyConnect: boolean;
  readonly enableAutoPipelining?: boolean;
  /** How long disconnect() waits for an ended socket before destroying it. */
  readonly disconnectTimeoutMs?: number;
  /**
   * Cluster: how often the slot map is fetched again, so that a promoted
   * replica is found without waiting for a MOVED reply (default 5000 ms, as
   * ioredis': a failover is also found through the MOVED replies and connection
   * errors of the commands sent to the old master).
   */
  readonly slotsRefreshIntervalMs?: number;
}

const DEFAULT_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;
const DEFAULT_SLOTS_REFRESH_MS = 5000;

/** Reconnect backoff of every Redis client: 100 ms more per attempt, never more than 2 s between attempts. */
export function redisReconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, 2000);
}

/** The settings of one server at `url` (LIMITS_REDIS_URL, a test's own Redis): no cluster, no sentinels. */
export function singleServer(url: string): RedisConnectionSettings {
  return { redisUrl: url, redisClusterNodes: [], redisSentinels: [], redisSentinelName: '', redisSentinelPassword: '' };
}

export function redisTopology(settings: RedisConnectionSettings): RedisTopology {
  if (settings.redisClusterNodes.length > 0) return 'cluster';
  if (settings.redisSentinels.length > 0) return 'sentinel';
  return 'single';
}

/** A host:port entry (IPv6 in brackets) as ioredis takes it. */
export function parseHostPort(entry: string, defaultPort = DEFAULT_PORT): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry.trim());
  if (!m) return { host: entry, port: defaultPort };
  return { host: m[1], port: m[2] ? Number(m[2]) : defaultPort };
}

/** The credentials and TLS choice of REDIS_URL (empty URL: none). */
function urlCredentials(url: string): { username?: string; password?: string; tls: boolean } {
  if (url === '') return { tls: false };
  const parsed = new URL(url);
  const password = parsed.searchParams.get('password') ?? decodeURIComponent(parsed.password);
  return {
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: password || undefined,
    tls: parsed.protocol === 'rediss:',
  };
}

/** The per-connection options every topology shares. */
function connectionOptions(tuning: RedisClientTuning): RedisOptions {
  return {
    connectTimeout: tuning.connectTimeoutMs,
    commandTimeout: tuning.commandTimeoutMs,
    maxRetriesPerRequest: tuning.maxRetriesPerRequest,
    disconnectTimeout: tuning.disconnectTimeoutMs,
  };
}

/** What createRedisClient hands ioredis, by topology: a pure function, so that tests can read it. */
export type RedisClientPlan =
  | { readonly topology: 'single'; readonly url: string; readonly options: RedisOptions }
  | { readonly topology: 'sentinel'; readonly options: RedisOptions }
  | {
      readonly topology: 'cluster';
      readonly nodes: Array<{ host: string; port: number }>;
      readonly options: ClusterOptions;
    };

export function redisClientPlan(settings: RedisConnectionSettings, tuning: RedisClientTuning): RedisClientPlan {
  const topology = redisTopology(settings);
  if (topology === 'single') {
    return {
      topology,
      url: settings.redisUrl,
      options: {
        ...connectionOptions(tuning),
        lazyConnect: tuning.lazyConnect,
        enableAutoPipelining: tuning.enableAutoPipelining,
        enableOfflineQueue: tuning.enableOfflineQueue,
        retryStrategy: tuning.retryStrategy,
      },
    };
  }
  const { username, password, tls } = urlCredentials(settings.redisUrl);
  const credentials = { username, password, ...(tls ? { tls: {} } : {}) };
  if (topology === 'sentinel') {
    return {
      topology,
      options: {
        ...connectionOptions(tuning),
        ...credentials,
        sentinels: settings.redisSentinels.map((entry) => parseHostPort(entry, DEFAULT_SENTINEL_PORT)),
        name: settings.redisSentinelName,
        sentinelPassword: settings.redisSentinelPassword || undefined,
        // rediss: reaches the master and its replicas (enableTLSForSentinelMode)
        // and the sentinels themselves (sentinelTLS: ioredis' SentinelConnector
        // connects to them with that option only) over TLS.
        enableTLSForSentinelMode: tls,
        ...(tls ? { sentinelTLS: {} } : {}),
        // Asks the sentinels to tell us of a failover (+switch-master) instead of
        // waiting for the old master's connection to fail.
        failoverDetector: true,
        sentinelRetryStrategy: (attempt) => tuning.retryStrategy(attempt),
        lazyConnect: tuning.lazyConnect,
        enableAutoPipelining: tuning.enableAutoPipelining,
        enableOfflineQueue: tuning.enableOfflineQueue,
        retryStrategy: tuning.retryStrategy,
      },
    };
  }
  return {
    topology,
    nodes: settings.redisClusterNodes.map((entry) => parseHostPort(entry)),
    options: clusterOptions(tuning, credentials),
  };
}

export function createRedisClient(settings: RedisConnectionSettings, tuning: RedisClientTuning): Redis | Cluster {
  const plan = redisClientPlan(settings, tuning);
  switch (plan.topology) {
    case 'single':
      return new Redis(plan.url, plan.options);
    case 'sentinel': {
      const client = new Redis(plan.options);
      reconnectAfterUnaskedEnd(client, tuning.retryStrategy);
      return client;
    }
    default:
      return new Cluster(plan.nodes, plan.options);
  }
}

/** Clients their owner closed (closeRedisClient, dropRedisClient): their end is final. */
const closedByOwner = new WeakSet<Redis | Cluster>();

/** The slice of a client reconnectAfterUnaskedEnd needs (a fake in its unit test). */
export interface ReconnectableClient {
  readonly status: string;
  on(event: 'ready' | 'end', listener: () => void): unknown;
  connect(): Promise<void>;
}

/**
 * In sentinel mode ioredis can end a client for good without being asked: when
 * the failover detector hears +switch-master while the client is between two
 * reconnect attempts (asking the sentinels for the master), the connector's
 * connect() rejects with "Connection is closed" and ioredis sets the client to
 * `end` instead of trying again (Redis.js connect). The publisher would then
 * stay down for ever after a failover. So an `end` that the owner did not ask
 * for, after the client was once ready, starts the client again on the
 * caller's reconnect schedule.
 */
export function reconnectAfterUnaskedEnd(
  client: ReconnectableClient,
  retryStrategy: (attempt: number) => number | null,
  closed: (client: ReconnectableClient) => boolean = (c) => closedByOwner.has(c as Redis),
): void {
  let wasReady = false;
  let attempt = 0;
  client.on('ready', () => {
    wasReady = true;
    attempt = 0;
  });
  client.on('end', () => {
    if (!wasReady || closed(client)) return;
    const delay = retryStrategy(++attempt);
    if (delay === null) return;
    setTimeout(() => {
      if (closed(client) || client.status !== 'end') return;
      // A failed attempt also reaches the client's 'error' listeners, where its owner
      // reports it, and ends the client again: this listener schedules the next one.
      client.connect().catch(() => undefined);
    }, delay).unref();
  });
}

/** Drops a client at once, for good (no QUIT): a start that failed, a one-off probe. */
export function dropRedisClient(client: Redis | Cluster): void {
  closedByOwner.add(client);
  client.disconnect();
}

function clusterOptions(tuning: RedisClientTuning, credentials: RedisOptions): ClusterOptions {
  const noRetries = tuning.maxRetriesPerRequest === 0;
  return {
    lazyConnect: tuning.lazyConnect,
    // Autopipelining groups commands by the set of nodes serving their slot, so
    // each automatic pipeline goes to one node (ioredis autoPipelining.ts).
    enableAutoPipelining: tuning.enableAutoPipelining,
    enableOfflineQueue: tuning.enableOfflineQueue,
    clusterRetryStrategy: (attempt) => tuning.retryStrategy(attempt),
    // A command whose connection closed, or that met CLUSTERDOWN, is handed back
    // to the caller instead of being resent after a delay: the caller's retry
    // owns that decision, as with a single server. MOVED and ASK are still
    // followed: they are routing, the command was not executed.
    retryDelayOnFailover: noRetries ? 0 : 100,
    retryDelayOnClusterDown: noRetries ? 0 : 100,
    slotsRefreshInterval: tuning.slotsRefreshIntervalMs ?? DEFAULT_SLOTS_REFRESH_MS,
    slotsRefreshTimeout: Math.min(tuning.connectTimeoutMs, 2000),
    redisOptions: { ...connectionOptions(tuning), ...credentials },
  };
}

/** host:port of every configured node (or sentinel), for logs and messages: never a password. */
export function describeRedisTarget(settings: RedisConnectionSettings): string {
  switch (redisTopology(settings)) {
    case 'cluster':
      return `cluster ${settings.redisClusterNodes.join(',')}`;
    case 'sentinel':
      return `sentinel ${settings.redisSentinelName} via ${settings.redisSentinels.join(',')}`;
    default:
      return describeUrl(settings.redisUrl);
  }
}

function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || String(DEFAULT_PORT)}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/** The secrets of the settings (REDIS_URL's password, the sentinels'), to scrub from error texts. */
function secretsOf(settings: RedisConnectionSettings): string[] {
  const secrets: string[] = [];
  try {
    const { password } = urlCredentials(settings.redisUrl);
    if (password) secrets.push(password);
  } catch {
    // an unparsable URL is reported by the config check, and holds no password we could find
  }
  if (settings.redisSentinelPassword) secrets.push(settings.redisSentinelPassword);
  return secrets;
}

/** Replaces every secret of `settings` in `message` with `***`. */
export function redisRedactor(settings: RedisConnectionSettings): (message: string) => string {
  const secrets = secretsOf(settings);
  return (message) => secrets.reduce((text, secret) => text.split(secret).join('***'), message);
}

/** Whether `client` is a Cluster client (ioredis marks it). */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** How long closeRedisClient lets QUIT run before it drops the connection. */
export const QUIT_TIMEOUT_MS = 2000;

/**
 * Closes a client of any topology, for good: QUIT lets Redis answer what it was
 * sent (bounded by `quitTimeoutMs`), then disconnect() drops whatever is left.
 * A client that is not ready (down, reconnecting, still connecting) is dropped
 * at once. The disconnect also releases, in sentinel mode, the connections to
 * the sentinels that watch for a failover (failoverDetector): QUIT ends the
 * master connection only, and those would reconnect for ever. Never rejects;
 * a failed QUIT is passed to `onQuitError`.
 */
export async function closeRedisClient(
  client: Redis | Cluster,
  options: { quitTimeoutMs?: number; onQuitError?: (err: unknown) => void } = {},
): Promise<void> {
  closedByOwner.add(client);
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, options.quitTimeoutMs ?? QUIT_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.quit().then(() => ended), deadline]);
  } catch (err) {
    options.onQuitError?.(err);
  } finally {
    clearTimeout(timer);
    // An ended cluster has nothing left; its disconnect() would only leave it `disconnecting`.
    if (!isCluster(client) || (client.status as string) !== 'end') client.disconnect();
  }
}
