/**
 * The address a connection comes from: the direct peer, or the left-most
 * untrusted hop of X-Forwarded-For when the peer is a configured trusted proxy.
 * A client cannot spoof its address through a header the proxy did not add.
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';

export class ClientAddressResolver {
  private readonly trusted = new net.BlockList();
  private readonly hasTrusted: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const entry of trustedProxies) addRange(this.trusted, entry);
    this.hasTrusted = trustedProxies.length > 0;
  }

  isTrusted(address: string): boolean {
    if (!this.hasTrusted) return false;
    const normalized = normalize(address);
    return this.trusted.check(normalized, net.isIPv6(normalized) ? 'ipv6' : 'ipv4');
  }

  resolve(req: IncomingMessage): string {
    const peer = normalize(req.socket.remoteAddress ?? '');
    if (!this.isTrusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const value = Array.isArray(header) ? header.join(',') : header;
    if (!value) return peer;
    // Walk from the right: each trusted hop vouches for the one before it.
    const hops = value
      .split(',')
      .map((h) => normalize(h.trim()))
      .filter((h) => net.isIP(h) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!this.isTrusted(hops[i])) return hops[i];
    }
    return hops[0] ?? peer;
  }
}

/** IPv4-mapped IPv6 (::ffff:1.2.3.4) is the IPv4 address. */
export function normalize(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

export function addRange(list: net.BlockList, entry: string): void {
  const [addr, bits] = entry.split('/');
  const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(addr, family);
  else list.addSubnet(addr, Number(bits), family);
}
