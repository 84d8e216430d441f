/**
 * MAX_STREAMS_PER_TENANT per instance, when no Redis holds the leases
 * (PUBSUB_ADAPTER kafka or in_memory without LIMITS_REDIS_URL): the primary
 * counts each tenant's slots over all its workers. A worker asks for a slot
 * over IPC (`lease_acquire`, answered `lease_reply` with the request's id) and
 * gives it back with `lease_release`; when a worker exits, however it ended
 * (SIGKILL, crash, replaced by a rolling restart), its slots are freed. A
 * worker that stopped waiting for an answer admits the stream anyway (fail
 * open) and says so with `lease_held`: the slot is counted then, even beyond
 * the limit, so that a late refusal does not leave a running stream uncounted.
 */
import type { Logger } from 'pino';
import { message, type WorkerToPrimary } from '../../shared/process/ipc';
import type { WorkerHandle } from './worker-launcher';

type LeaseMessage = Extract<WorkerToPrimary, { type: 'lease_acquire' | 'lease_release' | 'lease_held' }>;

export class TenantSlots {
  /** tenant → lease id → the worker holding it. */
  private readonly byTenant = new Map<string, Map<string, number>>();
  /** worker id → lease id → tenant. */
  private readonly byWorker = new Map<number, Map<string, string>>();

  constructor(private readonly logger?: Logger) {}

  /** Adds the lease unless the tenant holds `limit` already; a lease held already is granted again. */
  acquire(workerId: number, tenant: string, leaseId: string, limit: number): boolean {
    const leases = this.byTenant.get(tenant);
    if (leases?.has(leaseId)) return true;
    if (limit > 0 && (leases?.size ?? 0) >= limit) return false;
    this.hold(workerId, tenant, leaseId);
    return true;
  }

  /** Counts a lease whatever the limit: its stream runs already (`lease_held`). */
  hold(workerId: number, tenant: string, leaseId: string): void {
    let leases = this.byTenant.get(tenant);
    if (leases?.has(leaseId)) return;
    if (!leases) this.byTenant.set(tenant, (leases = new Map<string, number>()));
    leases.set(leaseId, workerId);
    let mine = this.byWorker.get(workerId);
    if (!mine) this.byWorker.set(workerId, (mine = new Map<string, string>()));
    mine.set(leaseId, tenant);
  }

  /** Gives back the worker's leases `leaseIds` of `tenant` (another worker's are left alone). */
  release(workerId: number, tenant: string, leaseIds: readonly string[]): void {
    const leases = this.byTenant.get(tenant);
    const mine = this.byWorker.get(workerId);
    for (const id of leaseIds) {
      if (leases?.get(id) !== workerId) continue;
      leases.delete(id);
      mine?.delete(id);
    }
    if (leases?.size === 0) this.byTenant.delete(tenant);
    if (mine?.size === 0) this.byWorker.delete(workerId);
  }

  /** Frees every slot of a worker that exited; returns how many. */
  releaseWorker(workerId: number): number {
    const mine = this.byWorker.get(workerId);
    if (!mine) return 0;
    this.byWorker.delete(workerId);
    for (const [id, tenant] of mine) {
      const leases = this.byTenant.get(tenant);
      leases?.delete(id);
      if (leases?.size === 0) this.byTenant.delete(tenant);
    }
    if (mine.size > 0)
      this.logger?.info({ worker_id: workerId, slots: mine.size }, 'freed the tenant stream slots of an exited worker');
    return mine.size;
  }

  /** The slots `tenant` holds now, over every worker. */
  held(tenant: string): number {
    return this.byTenant.get(tenant)?.size ?? 0;
  }

  /** Answers one worker's lease message. */
  serve(worker: Pick<WorkerHandle, 'id' | 'send'>, msg: LeaseMessage): void {
    if (msg.type === 'lease_release') return this.release(worker.id, msg.tenant, msg.leaseIds);
    if (msg.type === 'lease_held') return this.hold(worker.id, msg.tenant, msg.leaseId);
    const granted = this.acquire(worker.id, msg.tenant, msg.leaseId, msg.limit);
    worker.send(message({ type: 'lease_reply', requestId: msg.requestId, granted }));
  }
}
