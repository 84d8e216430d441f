/**
 * The redis_streams adapter (protocol.md section 3): one XADD per record to
 * REDIS_STREAM_KEY (`{tenant_id}` replaced by the tenant), `MAXLEN ~` when a cap
 * is set, one field per attribute and the payload as raw bytes in `payload`.
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
 */
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { ConnectedPublisher } from '../connected-publisher';
import { errorMessage, IngestError, PublishError } from '../../errors';
import type { AdapterName } from '../publisher';
import { recordAttributes, type IngestRecord } from '../records';
import { APPEND_NEW_FRAMES, APPEND_NEW_FRAMES_LUA } from './append-new-frames-script';
import { lastSeqKeyFor } from './last-seq-key';
import { isRetryableRedisError } from './redis-error-classifier';

export interface RedisStreamsPublisherOptions {
  /** redis:// or rediss:// URL; may carry credentials, which are never logged. */
  url: string;
  /** Stream key; `{tenant_id}` is replaced by each record's tenant. */
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
  logger?: Logger;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
const DEFAULT_DEDUP_TTL_SECONDS = 86_400;
const QUIT_TIMEOUT_MS = 2_000;
const DISCONNECT_TIMEOUT_MS = 500;
const TENANT_PLACEHOLDER = '{tenant_id}';

/** Reconnect backoff: 100 ms more per attempt, never more than 2 s between attempts. */
export function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, 2000);
}

/** The stream key for a tenant. */
export function streamKeyFor(template: string, tenantId: string): string {
  return template.split(TENANT_PLACEHOLDER).join(tenantId);
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

export class RedisStreamsPublisher extends ConnectedPublisher {
  readonly adapter: AdapterName = 'redis_streams';

  private readonly redis: Redis;
  private readonly options: RedisStreamsPublisherOptions;
  private readonly target: string;
  private readonly secret: string;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly deduplicate: boolean;
  private readonly dedupTtl: string;
  private lastConnectionError: string | undefined;
  private abortStart: ((err: Error) => void) | undefined;

  constructor(options: RedisStreamsPublisherOptions) {
    super();
    this.options = options;
    ({ target: this.target, secret: this.secret } = describeUrl(options.url));
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      enableAutoPipelining: true, // publishes of many streams share round trips
      enableOfflineQueue: false,
      // Commands in flight when the connection drops reject at once instead of
      // being resent after the reconnect: the caller's retry owns that decision.
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      retryStrategy: reconnectDelay,
      // How long disconnect() waits for a socket it ended before destroying it. ioredis
      // also arms this timer for a socket that is already gone (disconnect while
      // reconnecting), where it only delays the process exit: keep it short.
      disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    });
    this.deduplicate = options.deduplicate ?? true;
    this.dedupTtl = String(options.dedupTtlSeconds ?? DEFAULT_DEDUP_TTL_SECONDS);
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
    const key = streamKeyFor(this.options.streamKey, record.tenant_id);
    const once = this.deduplicate && record.type === 'audio';
    // Built outside the try, which classifies Redis's answer only: a record that
    // cannot be encoded is a bug, not a Redis verdict.
    const command = once
      ? this.redis.appendNewFrames(
          key,
          lastSeqKeyFor(key, record),
          this.dedupTtl,
          String(this.options.maxlen),
          ...pushFields([], record),
        )
      : this.redis.xadd(key, ...xaddArguments(record, this.options.maxlen));
    try {
      await command;
    } catch (err) {
      const retryable = isRetryableRedisError(err);
      const reason = this.redact(errorMessage(err));
      if (retryable) this.healthTracker.markFailing(reason);
      const what = once ? 'appending' : 'XADD';
      throw new PublishError(`${what} ${record.type} to ${key} on ${this.target} failed: ${reason}`, retryable, {
        cause: err,
      });
    }
    this.healthTracker.markUp();
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
          this.redis.disconnect();
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
    this.redis.on('ready', () => {
      this.lastConnectionError = undefined;
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

  protected async shutdown(): Promise<void> {
    this.abortStart?.(new IngestError('publisher_closed', 'close() during start()'));
    await Promise.allSettled([...this.inFlight]);
    await this.disconnect();
  }

  /** QUIT lets Redis answer what it was sent; disconnect() is the bounded fallback. */
  private async disconnect(): Promise<void> {
    const redis = this.redis;
    if (redis.status === 'end') return;
    if (redis.status !== 'ready') {
      redis.disconnect();
      return;
    }
    const ended = new Promise<void>((resolve) => redis.once('end', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), QUIT_TIMEOUT_MS);
    });
    try {
      const outcome = await Promise.race([redis.quit().then(() => ended), deadline]);
      if (outcome === 'timeout') redis.disconnect();
    } catch (err) {
      this.options.logger?.warn(
        { backend: this.adapter, target: this.target, err: this.redact(String(err)) },
        'redis QUIT failed; disconnecting',
      );
      redis.disconnect();
    } finally {
      clearTimeout(timer);
    }
  }

  private redact(message: string): string {
    return this.secret ? message.split(this.secret).join('***') : message;
  }
}

/** host:port for messages and logs, and the password to scrub from error texts. */
function describeUrl(url: string): { target: string; secret: string } {
  try {
    const parsed = new URL(url);
    return { target: `${parsed.hostname}:${parsed.port || '6379'}`, secret: decodeURIComponent(parsed.password) };
  } catch {
    return { target: 'redis (unparsable URL)', secret: '' };
  }
}
