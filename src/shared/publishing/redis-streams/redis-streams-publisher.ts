/**
 * The redis_streams adapter (protocol.md section 3): one XADD per record to
 * REDIS_STREAM_KEY (its placeholders replaced: stream-key-template.ts), `MAXLEN ~`
 * when a cap is set, one field per attribute and the payload as raw bytes in
 * `payload`. A single server, a Redis Cluster or a Sentinel-managed master, as
 * the connection settings say (redis-client-factory.ts), with one failure policy.
 * Only audio records have a `payload` field (an empty one when the audio is
 * empty); the other types carry attributes only.
 *
 * With `deduplicate` (REDIS_DEDUPLICATE, the default) an audio record goes
 * through a server-side script instead of a plain XADD: it appends only the
 * frames beyond the last seq stored for the record's sequence space
 * (append-new-frames-script.ts), so Redis holds every frame at most once.
 *
 * Failure policy: fail fast, the caller retries with backoff. No offline queue
 * (publishes while disconnected reject at once, retryable), no per-request
 * retries (commands in flight when the connection drops reject at once,
 * retryable), a bound on every command, and ioredis keeps reconnecting in the
 * background with a capped backoff. A command that was written before the
 * connection dropped, or that timed out, may still have reached Redis, so the
 * caller's retry can append a record again: the script then appends nothing;
 * with plain XADD the record is stored twice and consumers deduplicate by
 * frame sequence.
 *
 * With `waitReplicas` > 0 each write is followed, in the same pipeline and so on
 * the same master connection, by WAIT: a record counts as stored only once that
 * many replicas have it; fewer within `waitTimeoutMs` fail the publish as
 * retryable (the record is on the master: the retry's script appends nothing,
 * but renews the last-seq key's expiry, a replicated write that the retry's
 * WAIT then waits for). WAIT blocks its connection, and autopipelining sends
 * every publish to one master on one connection: a slow or frozen replica
 * stalls every stream of that master, each record for up to `waitTimeoutMs`.
 */
import type { Cluster, default as Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConnectedPublisher } from '../connected-publisher';
import { errorMessage, IngestError, PublishError } from '../../errors';
import type { AdapterName } from '../publisher';
import { recordAttributes, type AudioRecord, type IngestRecord } from '../records';
import {
  closeRedisClient,
  createRedisClient,
  dropRedisClient,
  describeRedisTarget,
  isCluster,
  redisReconnectDelay,
  redisRedactor,
  redisTopology,
  type RedisConnectionSettings,
} from '../../redis/redis-client-factory';
import { APPEND_NEW_FRAMES, APPEND_NEW_FRAMES_LUA, APPEND_NEW_FRAMES_SHA } from './append-new-frames-script';
import { lastSeqKeyFor } from './last-seq-key';
import { ClusterNodeFailures, type NodeFailureCause } from './cluster-node-failures';
import { keySlot } from './hash-slot';
import { isReplyError, isRetryableRedisError, replyPrefix } from './redis-error-classifier';
import { compileStreamKey, type StreamKeyRenderer } from './stream-key-template';

export interface RedisStreamsPublisherOptions {
  /**
   * redis:// or rediss:// URL; may carry credentials, which are never logged. With
   * clusterNodes or sentinels only its scheme and credentials are used ('' for none).
   */
  url: string;
  /** Redis Cluster seed nodes (host:port): selects the cluster client. */
  clusterNodes?: string[];
  /** Sentinel addresses (host:port), with sentinelName: the master they name. */
  sentinels?: string[];
  sentinelName?: string;
  sentinelPassword?: string;
  /** Stream key; `{tenant_id}` and `{interaction_id}` are replaced (in cluster mode, keeping their braces). */
  streamKey: string;
  /** Approximate cap on the stream length (XADD MAXLEN ~); 0 keeps everything. */
  maxlen: number;
  /** How long start() waits for a ready connection; also each connect attempt's bound. */
  connectTimeoutMs: number;
  /** Bound on one XADD round trip (default 10000): a publish never hangs on a dead link. */
  commandTimeoutMs?: number;
  /**
   * Store each audio frame at most once per sequence space, through the script
   * (default true); false publishes every record with a plain XADD.
   */
  deduplicate?: boolean;
  /** Expiry of a sequence space's last-seq key, renewed by each append (default 86400). */
  dedupTtlSeconds?: number;
  /** Replicas WAIT must report before a record counts as stored (default 0: no WAIT). */
  waitReplicas?: number;
  /** WAIT's timeout in ms (default 1000). */
  waitTimeoutMs?: number;
  logger?: Logger;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
const DEFAULT_DEDUP_TTL_SECONDS = 86_400;
const DEFAULT_WAIT_TIMEOUT_MS = 1000;
const DISCONNECT_TIMEOUT_MS = 500;

/** The stream key for a tenant outside cluster mode (the loadgen's read-back). */
export function streamKeyFor(template: string, tenantId: string): string {
  return compileStreamKey(template, false)({ tenant_id: tenantId, interaction_id: '' });
}

/** Everything after the key in `XADD key ...` for one record. */
export function xaddArguments(record: IngestRecord, maxlen: number): Array<string | Buffer> {
  const args: Array<string | Buffer> = maxlen > 0 ? ['MAXLEN', '~', String(maxlen), '*'] : ['*'];
  return pushFields(args, record);
}

/** The record's fields and values, as XADD takes them after `*`, appended to `args`. */
function pushFields(args: Array<string | Buffer>, record: IngestRecord): Array<string | Buffer> {
  for (const [field, value] of recordAttributes(record)) args.push(field, value);
  if (record.type === 'audio') args.push('payload', record.payload);
  return args;
}

/** What a pipeline's exec() resolves to: each command's error or reply, null if it was discarded. */
type PipelineResults = Array<[Error | null, unknown]> | null;

/**
 * WAIT's replica count from the results of a (write, WAIT) pipeline; the
 * write's or WAIT's error throws, and so does a reply that is not an integer:
 * a record is never confirmed on an answer that does not say how many
 * replicas have it (a plain Error: retryable).
 */
export function replicasConfirmed(results: PipelineResults): number {
  if (!results || results.length !== 2) throw new Error('the WAIT pipeline was discarded');
  const [[writeError], [waitError, count]] = results;
  if (writeError) throw writeError;
  if (waitError) throw waitError;
  if (typeof count !== 'number' || !Number.isInteger(count)) {
    throw new Error(`WAIT answered ${JSON.stringify(count) ?? String(count)}, not a replica count`);
  }
  return count;
}

/** The connection settings of the options, as the factory takes them. */
export function connectionSettings(options: RedisStreamsPublisherOptions): RedisConnectionSettings {
  return {
    redisUrl: options.url,
    redisClusterNodes: options.clusterNodes ?? [],
    redisSentinels: options.sentinels ?? [],
    redisSentinelName: options.sentinelName ?? '',
    redisSentinelPassword: options.sentinelPassword ?? '',
  };
}

export class RedisStreamsPublisher extends ConnectedPublisher {
  readonly adapter: AdapterName = 'redis_streams';

  private readonly redis: Redis | Cluster;
  private readonly options: RedisStreamsPublisherOptions;
  private readonly target: string;
  private readonly redact: (message: string) => string;
  private readonly keyOf: StreamKeyRenderer;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly deduplicate: boolean;
  private readonly dedupTtl: string;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  /** Cluster mode: the masters failing now, so that health is up only when none is. */
  private readonly nodeFailures: ClusterNodeFailures | undefined;
  private lastConnectionError: string | undefined;
  private abortStart: ((err: Error) => void) | undefined;

  constructor(options: RedisStreamsPublisherOptions) {
    super();
    this.options = options;
    const settings = connectionSettings(options);
    this.target = describeRedisTarget(settings);
    this.redact = redisRedactor(settings);
    this.keyOf = compileStreamKey(options.streamKey, redisTopology(settings) === 'cluster');
    this.redis = createRedisClient(settings, {
      lazyConnect: true,
      enableAutoPipelining: true, // publishes of many streams share round trips
      enableOfflineQueue: false,
      // Commands in flight when the connection drops reject at once instead of
      // being resent after the reconnect (or to another node): the caller's retry
      // owns that decision.
      maxRetriesPerRequest: 0,
      connectTimeoutMs: options.connectTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      retryStrategy: redisReconnectDelay,
      // How long disconnect() waits for a socket it ended before destroying it. ioredis
      // also arms this timer for a socket that is already gone (disconnect while
      // reconnecting), where it only delays the process exit: keep it short.
      disconnectTimeoutMs: DISCONNECT_TIMEOUT_MS,
    });
    this.nodeFailures = isCluster(this.redis) ? new ClusterNodeFailures() : undefined;
    this.deduplicate = options.deduplicate ?? true;
    this.dedupTtl = String(options.dedupTtlSeconds ?? DEFAULT_DEDUP_TTL_SECONDS);
    this.waitReplicas = options.waitReplicas ?? 0;
    this.waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    if (this.deduplicate) this.redis.defineCommand(APPEND_NEW_FRAMES, { numberOfKeys: 2, lua: APPEND_NEW_FRAMES_LUA });
    this.watchConnection();
    if (options.logger) this.logHealthChanges(options.logger, 'redis connection', this.target);
  }

  protected deliver(record: IngestRecord): Promise<void> {
    const pending = this.xadd(record);
    this.inFlight.add(pending);
    const forget = (): void => void this.inFlight.delete(pending);
    pending.then(forget, forget);
    return pending;
  }

  private async xadd(record: IngestRecord): Promise<void> {
    const key = this.keyOf(record);
    // Through the script: audio records when deduplicating.
    const once = this.deduplicate && record.type === 'audio' ? record : undefined;
    const what = once ? 'appending' : 'XADD';
    let replicas: number | undefined;
    try {
      if (this.waitReplicas > 0) replicas = await this.writeAndWait(key, record, once);
      else if (once) await this.redis.appendNewFrames(...this.scriptArguments(key, once));
      else await this.redis.xadd(key, ...xaddArguments(record, this.options.maxlen));
    } catch (err) {
      const retryable = isRetryableRedisError(err);
      const reason = this.redact(errorMessage(err));
      if (retryable) this.failed(key, isReplyError(err) ? 'reply' : 'connection', reason);
      throw new PublishError(`${what} ${record.type} to ${key} on ${this.target} failed: ${reason}`, retryable, {
        cause: err,
      });
    }
    if (replicas !== undefined && replicas < this.waitReplicas) {
      const reason =
        `WAIT: ${replicas} of ${this.waitReplicas} replicas (REDIS_WAIT_REPLICAS) acknowledged within ` +
        `${this.waitTimeoutMs} ms`;
      this.failed(key, 'reply', reason);
      throw new PublishError(`${what} ${record.type} to ${key} on ${this.target}: ${reason}`, true);
    }
    this.succeeded(key);
  }

  /** A publish to `key` failed (retryable): health degrades, and in a cluster its master is failing. */
  private failed(key: string, cause: NodeFailureCause, reason: string): void {
    const node = this.nodeOf(key);
    if (node) this.nodeFailures?.fail(node, cause, reason);
    this.healthTracker.markFailing(reason);
  }

  /** A publish to `key` succeeded: health is up, unless (in a cluster) another master is still failing. */
  private succeeded(key: string): void {
    const node = this.nodeOf(key);
    if (node) this.nodeFailures?.clear(node);
    this.reportStanding();
  }

  /** Up when no master is failing, else degraded with the latest failure still standing. */
  private reportStanding(): void {
    const standing = this.nodeFailures?.reason();
    if (standing === undefined) this.healthTracker.markUp();
    else this.healthTracker.markFailing(standing);
  }

  /** host:port of the master serving `key` in the client's slot map (cluster mode only). */
  private nodeOf(key: string): string | undefined {
    return isCluster(this.redis) ? this.redis.slots[keySlot(key)]?.[0] : undefined;
  }

  /** The script's keys and arguments for an audio record (append-new-frames-script.ts). */
  private scriptArguments(
    key: string,
    record: AudioRecord,
  ): [string, string, string, string, ...Array<string | Buffer>] {
    return [key, lastSeqKeyFor(key, record), this.dedupTtl, String(this.options.maxlen), ...pushFields([], record)];
  }

  /**
   * The write, then WAIT, in one pipeline: both on the connection of the master
   * that owns the key (a cluster pipeline goes to the node of its keyed
   * commands), so WAIT's count covers the write. Returns that count.
   *
   * The script goes as a plain EVALSHA, not as the defined command: on NOSCRIPT
   * (the server lost its script cache: a restart, a failover, SCRIPT FLUSH)
   * ioredis would resend the defined command alone, after the WAIT, whose count
   * would then not cover it. NOSCRIPT means the script did not run: the whole
   * pipeline is sent again with EVAL, which also loads the script.
   */
  private async writeAndWait(key: string, record: IngestRecord, once: AudioRecord | undefined): Promise<number> {
    const send = (script: 'evalsha' | 'eval'): Promise<PipelineResults> => {
      const pipeline = this.redis.pipeline();
      if (once && script === 'evalsha') pipeline.evalsha(APPEND_NEW_FRAMES_SHA, 2, ...this.scriptArguments(key, once));
      else if (once) pipeline.eval(APPEND_NEW_FRAMES_LUA, 2, ...this.scriptArguments(key, once));
      else pipeline.xadd(key, ...xaddArguments(record, this.options.maxlen));
      pipeline.wait(this.waitReplicas, this.waitTimeoutMs);
      return pipeline.exec();
    };
    let results = await send('evalsha');
    const writeError = results?.[0]?.[0];
    if (once && writeError && replyPrefix(writeError.message) === 'NOSCRIPT') results = await send('eval');
    return replicasConfirmed(results);
  }

  /**
   * Resolves on the first 'ready'. A refused first attempt does not end the wait:
   * ioredis keeps reconnecting until the deadline, so a Redis that is still
   * starting is waited for.
   */
  protected connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        this.abortStart = undefined;
        if (err) {
          dropRedisClient(this.redis);
          reject(err);
        } else resolve();
      };
      const onReady = (): void => finish();
      const timer = setTimeout(() => {
        const why = this.lastConnectionError ? `: ${this.lastConnectionError}` : '';
        const ms = this.options.connectTimeoutMs;
        finish(new IngestError('backend_unavailable', `redis at ${this.target} was not ready within ${ms} ms${why}`));
      }, this.options.connectTimeoutMs);
      this.abortStart = finish;
      this.redis.once('ready', onReady);
      // A failed attempt also reaches the 'error' listener (watchConnection), which
      // keeps its message for the timeout error; the promise itself adds nothing.
      this.redis.connect().catch(() => undefined);
    });
  }

  private watchConnection(): void {
    // A cluster reports a node's failure (a master killed, a refused slot refresh)
    // apart from its own: publishes to that node's slots fail meanwhile.
    this.redis.on('node error', (err: Error, node?: string) => {
      this.lastConnectionError = this.redact(`${node ?? 'node'}: ${err.message}`);
      if (node) this.nodeFailures?.fail(node, 'connection', this.lastConnectionError);
      if (!this.closed && this.redis.status === 'ready') this.healthTracker.markFailing(this.lastConnectionError);
    });
    if (isCluster(this.redis) && this.nodeFailures) this.watchClusterRecovery(this.redis, this.nodeFailures);
    this.redis.on('ready', () => {
      this.lastConnectionError = undefined;
      this.nodeFailures?.retain([]);
      this.healthTracker.markUp();
    });
    this.redis.on('error', (err: Error) => {
      this.lastConnectionError = this.redact(err.message);
      if (this.closed) return;
      if (this.redis.status === 'ready') this.healthTracker.markFailing(this.lastConnectionError);
      else this.healthTracker.markDown(this.lastConnectionError);
    });
    const lost = (): void => {
      if (this.closed) return;
      this.healthTracker.markDown(this.lastConnectionError ?? `connection to redis at ${this.target} lost`);
    };
    this.redis.on('close', lost);
    this.redis.on('reconnecting', lost);
    this.redis.on('end', lost);
  }

  /**
   * A cluster stays `ready` while one of its masters is gone (its other nodes
   * still serve their slots), so it never reports the recovery either. While
   * health is degraded, each slot refresh (every 5 s, and after a MOVED)
   * forgets the failing nodes that left the slot map (their replica took over)
   * and PINGs the masters that were unreachable:
   * one that answers is cleared. A master that refused writes (OOM, MISCONF,
   * too few replicas for WAIT) is cleared only by a publish that succeeds on
   * it: its PING says nothing of that. Health is up once no master is failing.
   */
  private watchClusterRecovery(cluster: Cluster, failures: ClusterNodeFailures): void {
    let probing = false;
    cluster.on('refresh', () => {
      if (probing || this.closed || this.healthTracker.current().state !== 'degraded') return;
      const masters = cluster.nodes('master');
      const keyOf = (node: Redis): string => `${node.options.host ?? ''}:${node.options.port ?? ''}`;
      failures.retain(masters.map(keyOf));
      // A failure no node was named for (the cluster's own error): every master must answer.
      const unreachable = failures.size === 0 ? masters.map(keyOf) : failures.unreachable();
      probing = true;
      void Promise.allSettled(
        masters
          .filter((node) => unreachable.includes(keyOf(node)))
          .map((node) => node.ping().then(() => failures.clear(keyOf(node)))),
      )
        .then((answers) => {
          if (this.closed || answers.some((answer) => answer.status === 'rejected')) return;
          if (this.healthTracker.current().state === 'degraded') this.reportStanding();
        })
        .finally(() => (probing = false));
    });
  }

  protected async shutdown(): Promise<void> {
    this.abortStart?.(new IngestError('publisher_closed', 'close() during start()'));
    await Promise.allSettled([...this.inFlight]);
    await this.disconnect();
  }

  /** QUIT lets Redis answer what it was sent; disconnect() is the bounded fallback. */
  private async disconnect(): Promise<void> {
    await closeRedisClient(this.redis, {
      onQuitError: (err) =>
        this.options.logger?.warn(
          { backend: this.adapter, target: this.target, err: this.redact(String(err)) },
          'redis QUIT failed; disconnecting',
        ),
    });
  }
}
