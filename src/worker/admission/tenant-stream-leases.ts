/**
 * A worker's side of MAX_STREAMS_PER_TENANT: one lease per admitted stream,
 * taken before the handshake (a refusal is 429 tenant_stream_limit), renewed
 * by a heartbeat every third of TENANT_LEASE_TTL_MS while the stream lives
 * (when the store's leases expire), and released when its socket closes,
 * whichever way the stream ended; close() releases whatever is still held.
 *
 * Fail open: a store that does not answer within its deadline (Redis down or
 * slow, the primary busy) must not stop audio ingest. The stream is admitted,
 * the failure counted (ingest_tenant_lease_errors_total{op}) and logged once
 * per outage (when the store stops answering and when it answers again, with
 * the connection's last error as the cause). Such a lease is still held here,
 * so the next renewal adds it to the store. A store that answers with an
 * error (Redis's WRONGTYPE, a script error, NOSCRIPT that loading did not
 * cure) is no outage but a misconfiguration that keeps the limit off for as
 * long as it lasts: logged as an error (code tenant_leases_rejected) at most
 * once per REPLY_ERROR_LOG_INTERVAL_MS, with how many went unlogged.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage, IngestError } from '../../shared/errors';
import type { Config } from '../../shared/config/config-schema';
import type { WorkerToPrimary } from '../../shared/process/ipc';
import type { LeaseOp, WorkerStats } from '../metrics/worker-stats';
import {
  createTenantLeaseStore,
  LEASE_CALL_TIMEOUT_MS,
  leaseCallTimeoutMs,
  type TenantLeaseStore,
} from './tenant-lease-store';

export interface TenantStreamLeasesOptions {
  readonly store: TenantLeaseStore;
  readonly limit: number;
  readonly ttlMs: number;
  /** Deadline of one store call (LEASE_CALL_TIMEOUT_MS). */
  readonly callTimeoutMs: number;
  readonly stats: WorkerStats;
  readonly logger: Logger;
}

/** What admission needs: a lease for a stream of `tenant`, and the function that gives it back (once). */
export interface TenantStreamLimit {
  acquire(tenant: string): Promise<() => void>;
}

/** A worker's leases for `config` and their store, or undefined when MAX_STREAMS_PER_TENANT is 0. */
export function createTenantStreamLeases(
  config: Readonly<Config>,
  deps: {
    readonly stats: WorkerStats;
    readonly logger: Logger;
    readonly sendToPrimary: (body: WorkerToPrimary) => boolean;
  },
): { readonly leases: TenantStreamLeases; readonly store: TenantLeaseStore } | undefined {
  const store = createTenantLeaseStore(config, deps.sendToPrimary);
  if (!store) return undefined;
  const leases = new TenantStreamLeases({
    store,
    limit: config.maxStreamsPerTenant,
    ttlMs: config.tenantLeaseTtlMs,
    // The primary's store keeps its own deadline (and tells the primary it held the lease): this one comes after.
    callTimeoutMs: store.expires ? leaseCallTimeoutMs(config.tenantLeaseTtlMs) : 2 * LEASE_CALL_TIMEOUT_MS,
    stats: deps.stats,
    logger: deps.logger,
  });
  return { leases, store };
}

/** At most one tenant_leases_rejected line per this many ms (a misconfiguration fails every call). */
export const REPLY_ERROR_LOG_INTERVAL_MS = 60_000;

/** An error Redis answered with (ioredis's ReplyError): the store is reachable but refuses the command. */
function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** Rejects with a timeout error unless `work` settles within `ms`. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export class TenantStreamLeases implements TenantStreamLimit {
  /** Lease ids unique across the fleet: this process's random prefix, then a counter. */
  private readonly idPrefix = `${randomBytes(6).toString('hex')}-${process.pid}-`;
  private nextId = 1;
  /** The leases held, by tenant. */
  private readonly held = new Map<string, Set<string>>();
  private heartbeat: NodeJS.Timeout | undefined;
  private renewing = false;
  private answering = true;
  private closing: Promise<void> | undefined;
  private replyErrorLoggedAt: number | undefined;
  private replyErrorsUnlogged = 0;

  constructor(private readonly options: TenantStreamLeasesOptions) {}

  /** Connects the store (a failure is logged: the streams fall open until it answers) and starts the heartbeat. */
  async start(): Promise<void> {
    const { store, ttlMs } = this.options;
    if (store.expires && !this.heartbeat && !this.closing) {
      this.heartbeat = setInterval(() => void this.renewAll(), Math.max(1, Math.floor(ttlMs / 3)));
      this.heartbeat.unref();
    }
    await store.start().then(
      () => this.answered(),
      (err: unknown) => this.failed('acquire', err, false),
    );
  }

  /** Takes a lease, or throws tenant_stream_limit (429); fails open when the store does not answer. */
  async acquire(tenant: string): Promise<() => void> {
    const { store, callTimeoutMs, limit } = this.options;
    const leaseId = `${this.idPrefix}${this.nextId++}`;
    let granted = true;
    try {
      granted = await within(store.acquire(tenant, leaseId), callTimeoutMs);
      this.answered();
    } catch (err) {
      this.failed('acquire', err);
    }
    if (!granted) throw new IngestError('tenant_stream_limit', `tenant has reached its limit of ${limit} open streams`);
    if (this.closing) {
      this.releaseInStore(tenant, [leaseId]);
      return () => undefined;
    }
    this.hold(tenant, leaseId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (this.drop(tenant, leaseId)) this.releaseInStore(tenant, [leaseId]);
    };
  }

  /** Leases held now (the ingest_tenant_leases_held gauge). */
  get size(): number {
    return this.options.stats.tenantLeases.held;
  }

  /** Stops the heartbeat, releases every lease still held, closes the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
      const { store, callTimeoutMs } = this.options;
      const all = [...this.held].map(([tenant, ids]) => [tenant, [...ids]] as const);
      this.held.clear();
      this.options.stats.tenantLeases.held = 0;
      await Promise.all(
        all.map(([tenant, ids]) =>
          within(store.release(tenant, ids), callTimeoutMs).catch((err: unknown) => this.failed('release', err)),
        ),
      );
      await store
        .close()
        .catch((err: unknown) =>
          this.options.logger.warn(
            { code: 'tenant_leases_unavailable', store: store.kind, err: errorMessage(err) },
            'closing the tenant lease store failed',
          ),
        );
    })();
    return this.closing;
  }

  /** One heartbeat: every tenant's leases pushed one lease period on (one call per tenant); skipped while one runs. */
  private async renewAll(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    const { store, callTimeoutMs, stats, logger } = this.options;
    try {
      await Promise.all(
        [...this.held].map(async ([tenant, ids]) => {
          try {
            const missing = await within(store.renew(tenant, [...ids]), callTimeoutMs);
            this.answered();
            if (missing === 0) return;
            stats.tenantLeases.readded += missing;
            logger.warn(
              { tenant_id: tenant, leases: missing },
              'tenant stream leases were missing at renewal: re-added',
            );
          } catch (err) {
            this.failed('renew', err);
          }
        }),
      );
    } finally {
      this.renewing = false;
    }
  }

  private hold(tenant: string, leaseId: string): void {
    let ids = this.held.get(tenant);
    if (!ids) this.held.set(tenant, (ids = new Set()));
    ids.add(leaseId);
    this.options.stats.tenantLeases.held++;
  }

  /** Forgets a lease; false when close() already took it. */
  private drop(tenant: string, leaseId: string): boolean {
    const ids = this.held.get(tenant);
    if (!ids?.delete(leaseId)) return false;
    if (ids.size === 0) this.held.delete(tenant);
    this.options.stats.tenantLeases.held--;
    return true;
  }

  private releaseInStore(tenant: string, ids: string[]): void {
    const { store, callTimeoutMs } = this.options;
    within(store.release(tenant, ids), callTimeoutMs).then(
      () => this.answered(),
      (err: unknown) => this.failed('release', err),
    );
  }

  private answered(): void {
    if (this.answering) return;
    this.answering = true;
    this.options.logger.info({ store: this.options.store.kind }, 'the tenant lease store answers again');
  }

  /** Counts a failed call (unless `counted` is false) and logs the first of an outage. */
  private failed(op: LeaseOp, err: unknown, counted = true): void {
    const { stats, logger, store } = this.options;
    if (counted) stats.count(stats.tenantLeases.errors, op);
    if (isReplyError(err)) return this.rejected(op, err);
    if (!this.answering) return;
    this.answering = false;
    const cause = store.connectionError;
    logger.warn(
      { code: 'tenant_leases_unavailable', store: store.kind, op, err: errorMessage(err), ...(cause ? { cause } : {}) },
      'the tenant lease store does not answer: streams are admitted without a lease (MAX_STREAMS_PER_TENANT ' +
        'not enforced) until it does',
    );
  }

  /** The store answered with an error: logged as one, at most once per REPLY_ERROR_LOG_INTERVAL_MS. */
  private rejected(op: LeaseOp, err: Error): void {
    const now = Date.now();
    if (this.replyErrorLoggedAt !== undefined && now - this.replyErrorLoggedAt < REPLY_ERROR_LOG_INTERVAL_MS) {
      this.replyErrorsUnlogged++;
      return;
    }
    this.replyErrorLoggedAt = now;
    const unlogged = this.replyErrorsUnlogged;
    this.replyErrorsUnlogged = 0;
    this.options.logger.error(
      { code: 'tenant_leases_rejected', store: this.options.store.kind, op, err: err.message, unlogged },
      'the tenant lease store answers with an error: MAX_STREAMS_PER_TENANT is not enforced (check its Redis: ' +
        'key type, scripts, permissions)',
    );
  }
}
