/**
 * The keys of JWT_JWKS_URL, as one worker holds them. The key set is fetched
 * at start, again every JWT_JWKS_REFRESH_MS (so that a removed key stops
 * verifying), and when a token names a kid the cache lacks; but never twice
 * within JWT_JWKS_COOLDOWN_MS, so tokens with made-up kids cannot turn into a
 * flood of fetches. Concurrent lookups share one fetch. A failed fetch keeps
 * the cached keys serving (an identity-provider outage refuses no token whose
 * key is known); once no fetch has succeeded for JWT_JWKS_CACHE_MAX_AGE_MS the
 * source reports itself stale, and /health says degraded.
 *
 * jwks-rsa (the companion of jsonwebtoken) turns the published JWKs into
 * public keys; this class keeps the cache, its timers and its fetch.
 * Life: start() once, close() once (idempotent); after close the cached keys
 * still answer lookups, but nothing is fetched again.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { JwksClient } from 'jwks-rsa';
import type { Logger } from 'pino';
import { isJwtVerificationKey } from '../../shared/auth/public-keys';
import type { WorkerStats } from '../metrics/worker-stats';
import { fetchJwks, JwksFetchError, type JwksFetchOptions } from './jwks-fetch';
import { screenKeySet, type IgnoredKey } from './jwk-screening';
import { errorMessage } from '../../shared/errors';

export interface JwksKeySourceOptions {
  readonly url: string;
  /** JWT_ALGORITHMS: a published key whose `alg` is not among them is ignored. */
  readonly algorithms: readonly string[];
  readonly refreshMs: number;
  readonly cooldownMs: number;
  readonly timeoutMs: number;
  readonly maxAgeMs: number;
  readonly logger: Logger;
  readonly stats: WorkerStats;
  readonly now?: () => number;
  /** The HTTP GET; replaced by unit tests. */
  readonly fetch?: (url: string, options: JwksFetchOptions) => Promise<unknown>;
}

/** One usable key of the set. */
interface CachedKey {
  readonly key: KeyObject;
  /** The `alg` the set names for it; a token must use that one. Undefined: any accepted one its type verifies. */
  readonly alg: string | undefined;
}

/** What a lookup by kid finds: the keys to check the signature with, or why there are none. */
export type KidLookup =
  | { readonly found: readonly KeyObject[] }
  | { readonly missing: 'not_in_set' | 'wrong_algorithm' | 'unavailable'; readonly reason: string };

export class JwksKeySource {
  private readonly now: () => number;
  private readonly fetch: (url: string, options: JwksFetchOptions) => Promise<unknown>;
  private keys = new Map<string, CachedKey[]>();
  private startedAt: number | undefined;
  private fetchedAt: number | undefined;
  private lastAttemptAt: number | undefined;
  /** Why the last fetch failed; undefined when it succeeded (or none ran yet). */
  private lastFailure: string | undefined;
  private inFlight: Promise<void> | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: JwksKeySourceOptions) {
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? fetchJwks;
  }

  /** Fetches the key set once and schedules the refreshes; resolves after that first fetch, whatever its outcome. */
  start(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.startedAt ??= this.now();
    this.started ??= this.refresh();
    return this.started;
  }

  /** Stops the refreshes and cancels a fetch in flight (its waiting lookups settle at once). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort(new JwksFetchError('aborted', 'the key source closed'));
  }

  /** Usable keys held now. */
  get size(): number {
    let n = 0;
    for (const list of this.keys.values()) n += list.length;
    return n;
  }

  /** Time since the last successful fetch (since start() while none has succeeded). */
  ageMs(): number {
    const since = this.fetchedAt ?? this.startedAt;
    return since === undefined ? 0 : Math.max(0, this.now() - since);
  }

  /** Stale: no successful fetch for JWT_JWKS_CACHE_MAX_AGE_MS, or none at all and the first one failed. */
  stale(): boolean {
    if (this.startedAt === undefined) return false;
    if (this.fetchedAt === undefined && this.lastFailure !== undefined) return true;
    return this.ageMs() > this.options.maxAgeMs;
  }

  /**
   * The keys for a token's kid and alg. A kid the cache lacks waits for the
   * fetch in flight, or starts one when the cooldown allows; other lookups
   * never wait (a cached kid answers at once, whatever is in flight).
   */
  async find(kid: string, alg: string): Promise<KidLookup> {
    const cached = this.match(kid, alg);
    if (cached) return cached;
    const { stats } = this.options;
    if (!this.inFlight && !this.mayFetch()) {
      stats.count(stats.jwks.unknownKids, this.lastFailure === undefined ? 'cooldown' : 'unavailable');
      return this.miss(kid, true);
    }
    stats.jwks.waiting++;
    try {
      await (this.inFlight ?? this.refresh());
    } finally {
      stats.jwks.waiting--;
    }
    const fetched = this.match(kid, alg);
    const outcome =
      fetched && 'found' in fetched ? 'found' : this.lastFailure === undefined ? 'not_found' : 'unavailable';
    stats.count(stats.jwks.unknownKids, outcome);
    return fetched ?? this.miss(kid, false);
  }

  /** The cached keys for kid and alg; undefined when the kid is not cached at all. */
  private match(kid: string, alg: string): KidLookup | undefined {
    const candidates = this.keys.get(kid);
    if (!candidates) return undefined;
    const found = candidates.filter((c) => c.alg === undefined || c.alg === alg).map((c) => c.key);
    if (found.length > 0) return { found };
    const named = candidates.map((c) => c.alg).join(', ');
    return { missing: 'wrong_algorithm', reason: `key ${printable(kid)} of the key set is for ${named}, not ${alg}` };
  }

  private miss(kid: string, inCooldown: boolean): KidLookup {
    if (this.lastFailure !== undefined) {
      return {
        missing: 'unavailable',
        reason: `key ${printable(kid)} is not held and the key set could not be fetched (${this.lastFailure})`,
      };
    }
    const age = Math.round(this.ageMs() / 1000);
    const when = inCooldown
      ? `fetched ${age} s ago; fetched again at most every ${this.options.cooldownMs} ms`
      : 'fetched just now';
    return { missing: 'not_in_set', reason: `key ${printable(kid)} is not in the key set (${when})` };
  }

  private mayFetch(): boolean {
    if (this.closed) return false;
    return this.lastAttemptAt === undefined || this.now() - this.lastAttemptAt >= this.options.cooldownMs;
  }

  /** Starts a fetch unless one is in flight; the next one is scheduled when it ends. */
  private refresh(): Promise<void> {
    this.inFlight ??= this.fetchOnce().finally(() => {
      this.inFlight = undefined;
      this.schedule();
    });
    return this.inFlight;
  }

  /** After a success, the next refresh in JWT_JWKS_REFRESH_MS; after a failure, a retry after the cooldown. */
  private schedule(): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    const delay = this.lastFailure === undefined ? this.options.refreshMs : this.options.cooldownMs;
    this.timer = setTimeout(() => void this.refresh(), delay);
    this.timer.unref();
  }

  private async fetchOnce(): Promise<void> {
    const { url, timeoutMs, logger, stats } = this.options;
    this.lastAttemptAt = this.now();
    const controller = new AbortController();
    this.controller = controller;
    try {
      const body = await this.fetch(url, { timeoutMs, signal: controller.signal });
      const { keys, ignored } = await this.importKeys(body);
      this.keys = keys;
      this.fetchedAt = this.now();
      this.lastFailure = undefined;
      stats.count(stats.jwks.fetches, 'ok');
      this.reportIgnored(ignored);
      logger.debug({ keys: this.size, kids: [...keys.keys()].map(printable) }, 'key set fetched');
    } catch (err) {
      const failure = err instanceof JwksFetchError ? err : new JwksFetchError('invalid', errorMessage(err));
      this.lastFailure = failure.message;
      if (failure.result === 'aborted') return; // closing: not the endpoint's failure, neither counted nor logged
      stats.count(stats.jwks.fetches, failure.result);
      const serving = this.fetchedAt === undefined ? 'no key held yet' : `serving the ${this.size} cached keys`;
      logger.warn(
        { code: failure.code, result: failure.result, jwks_url: url, key_set_age_s: Math.round(this.ageMs() / 1000) },
        `fetching the key set failed: ${failure.message}; ${serving}`,
      );
    } finally {
      if (this.controller === controller) this.controller = undefined;
    }
  }

  /** The usable keys by kid; throws JwksFetchError('invalid') when the set holds none. */
  private async importKeys(body: unknown): Promise<{ keys: Map<string, CachedKey[]>; ignored: IgnoredKey[] }> {
    let screened;
    try {
      screened = screenKeySet(body, this.options.algorithms);
    } catch (err) {
      throw new JwksFetchError('invalid', errorMessage(err));
    }
    const ignored = [...screened.ignored];
    const keys = new Map<string, CachedKey[]>();
    for (const jwk of screened.usable) {
      const kid = jwk['kid'] as string;
      const key = await importJwk(jwk);
      if (!key) {
        ignored.push({ kid, reason: 'unsupported' });
        continue;
      }
      const alg = typeof jwk['alg'] === 'string' ? jwk['alg'] : undefined;
      keys.set(kid, [...(keys.get(kid) ?? []), { key, alg }]);
    }
    if (keys.size === 0) {
      // A set with no usable key is taken for a broken answer: the cached keys keep serving.
      throw new JwksFetchError('invalid', `the key set holds no usable signing key (${ignored.length} ignored)`);
    }
    return { keys, ignored };
  }

  private reportIgnored(ignored: readonly IgnoredKey[]): void {
    if (ignored.length === 0) return;
    const { stats, logger } = this.options;
    for (const { reason } of ignored) stats.count(stats.jwks.keysIgnored, reason);
    logger.warn(
      { ignored: ignored.map((i) => ({ kid: i.kid === undefined ? null : printable(i.kid), reason: i.reason })) },
      `${ignored.length} keys of the key set ignored ` +
        '(only asymmetric signing keys with a kid and an accepted alg serve)',
    );
  }
}

/** jwks-rsa's import of one published key (through jose), checked again as an RSA or EC public key. */
async function importJwk(jwk: Record<string, unknown>): Promise<KeyObject | undefined> {
  const client = new JwksClient({ cache: false, rateLimit: false, fetcher: async () => ({ keys: [jwk] }) });
  let pem: string;
  try {
    const [signing] = await client.getSigningKeys();
    if (!signing) return undefined;
    pem = signing.getPublicKey();
  } catch {
    return undefined; // jwks-rsa could not import it (bad key material, alg and key disagree)
  }
  const key = createPublicKey(pem);
  return isJwtVerificationKey(key) ? key : undefined;
}

/** A kid from the network in a message: bounded and printable. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `"${clean.slice(0, 64)}…"` : `"${clean}"`;
}
