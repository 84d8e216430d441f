/**
 * Per-worker connection limits (protocol.md 1.1: 429). Counts are per worker
 * process: with N workers the effective cap is about N times the setting, which
 * is what node:cluster allows without a shared store (see docs/operations.md).
 */
import { IngestError } from '../../shared/errors';

export interface ConnectionLimits {
  readonly maxConnectionsPerWorker: number;
  readonly maxConnectionsPerTenant: number;
  readonly maxConnectionsPerIp: number;
}

export class ConnectionLimiter {
  private total = 0;
  private readonly perTenant = new Map<string, number>();
  private readonly perIp = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** Takes a slot or throws connection_limit; the returned function gives it back (once). */
  acquire(tenantId: string, ip: string): () => void {
    const { maxConnectionsPerWorker, maxConnectionsPerTenant, maxConnectionsPerIp } = this.limits;
    if (maxConnectionsPerWorker > 0 && this.total >= maxConnectionsPerWorker) {
      throw new IngestError(
        'connection_limit',
        `this worker holds its maximum of ${maxConnectionsPerWorker} connections`,
      );
    }
    if (maxConnectionsPerTenant > 0 && (this.perTenant.get(tenantId) ?? 0) >= maxConnectionsPerTenant) {
      throw new IngestError(
        'connection_limit',
        `tenant has reached its limit of ${maxConnectionsPerTenant} connections`,
      );
    }
    if (maxConnectionsPerIp > 0 && (this.perIp.get(ip) ?? 0) >= maxConnectionsPerIp) {
      throw new IngestError(
        'connection_limit',
        `source address has reached its limit of ${maxConnectionsPerIp} connections`,
      );
    }
    this.total++;
    bump(this.perTenant, tenantId, 1);
    bump(this.perIp, ip, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      bump(this.perTenant, tenantId, -1);
      bump(this.perIp, ip, -1);
    };
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
