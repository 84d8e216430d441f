/**
 * Per-worker connection limits (protocol.md 1.1: 429). Counts are per worker
 * process: with N workers the effective cap is about N times the setting, which
 * is what node:cluster allows without a shared store (see docs/operations.md).
 *
 * The per-address count takes an IPv6 address by its /64: one subscriber or host
 * usually holds a whole /64 and may use any of its 2^64 addresses, so counting each
 * address alone would make MAX_CONNECTIONS_PER_IP no limit at all for IPv6 clients.
 */
import net from 'node:net';
import { IngestError } from '../../shared/errors';

/** The IPv6 prefix length counted as one source address. */
export const IPV6_COUNTED_PREFIX = 64;

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
  acquire(tenantId: string, address: string): () => void {
    const { maxConnectionsPerWorker, maxConnectionsPerTenant, maxConnectionsPerIp } = this.limits;
    const ip = sourceKey(address);
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
        `${ip === address ? 'source address' : `source network ${ip}`} has reached its limit of ` +
          `${maxConnectionsPerIp} connections`,
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

/** What the per-address limit counts: an IPv4 address as it is, an IPv6 address by its /64 (`2001:db8:0:1::/64`). */
export function sourceKey(address: string): string {
  if (!net.isIPv6(address)) return address;
  const prefix = ipv6Groups(address).slice(0, IPV6_COUNTED_PREFIX / 16);
  return `${prefix.map((group) => parseInt(group || '0', 16).toString(16)).join(':')}::/${IPV6_COUNTED_PREFIX}`;
}

/** The eight 16-bit groups of a valid IPv6 address, `::` expanded and a dotted IPv4 tail made two groups. */
function ipv6Groups(address: string): string[] {
  let text = address.split('%')[0].toLowerCase(); // a zone id names an interface, not an address
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = text.split('::');
  const head = left ? left.split(':') : [];
  if (right === undefined) return head;
  const tail = right ? right.split(':') : [];
  return [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
