/**
 * MAX_STREAMS_PER_TENANT without a Redis for the limits (PUBSUB_ADAPTER kafka
 * or in_memory, no LIMITS_REDIS_URL): the primary counts each tenant's slots
 * over all its workers, so the limit holds per instance. Acquire is an IPC
 * request with an id, answered once (late and duplicate replies are
 * ignored); release is a plain message. The primary frees a worker's slots
 * when it exits, so these leases never expire. An acquire unanswered within
 * PRIMARY_LEASE_TIMEOUT_MS (its own deadline: these leases have no period) is
 * admitted by the caller (fail open), so the primary is told `lease_held`
 * and counts it whatever its late answer was.
 */
import { message, type PrimaryToWorker, type WorkerToPrimary } from '../../shared/process/ipc';
import type { TenantLeaseStore } from './tenant-lease-store';

type LeaseReply = Extract<PrimaryToWorker, { type: 'lease_reply' }>;

/** How long an acquire waits for the primary before the stream is admitted without its answer. */
export const PRIMARY_LEASE_TIMEOUT_MS = 1000;

export class PrimaryLeaseStore implements TenantLeaseStore {
  readonly kind = 'primary';
  readonly expires = false;
  private nextRequestId = 1;
  private readonly pending = new Map<number, (granted: boolean) => void>();

  constructor(
    /** Sends to the primary; false when the channel is closed. */
    private readonly send: (body: WorkerToPrimary) => boolean,
    private readonly limit: number,
    /** An unanswered request is given up after this (the caller fails open, the primary told); its reply ignored. */
    readonly timeoutMs: number = PRIMARY_LEASE_TIMEOUT_MS,
  ) {}

  async start(): Promise<void> {}

  acquire(tenant: string, leaseId: string): Promise<boolean> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        // The caller admits the stream anyway: whatever the late answer, the primary counts it.
        this.send(message({ type: 'lease_held', tenant, leaseId }));
        reject(new Error(`the primary did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(requestId, (granted) => {
        clearTimeout(timer);
        resolve(granted);
      });
      if (this.send(message({ type: 'lease_acquire', requestId, tenant, leaseId, limit: this.limit }))) return;
      clearTimeout(timer);
      this.pending.delete(requestId);
      reject(new Error('the channel to the primary is closed'));
    });
  }

  /** The primary's answer to an acquire; one the caller stopped waiting for is dropped. */
  onReply(reply: LeaseReply): void {
    const resolve = this.pending.get(reply.requestId);
    this.pending.delete(reply.requestId);
    resolve?.(reply.granted);
  }

  async renew(): Promise<number> {
    return 0;
  }

  async release(tenant: string, leaseIds: readonly string[]): Promise<void> {
    if (!this.send(message({ type: 'lease_release', tenant, leaseIds: [...leaseIds] })))
      throw new Error('the channel to the primary is closed');
  }

  async close(): Promise<void> {
    for (const resolve of this.pending.values()) resolve(true); // clears each timer; the worker is stopping
    this.pending.clear();
  }
}
