/**
 * The address a connection comes from: the direct peer, or the right-most
 * untrusted hop of X-Forwarded-For when the peer is a configured trusted proxy.
 * A client cannot spoof its address through a header the proxy did not add:
 * only the entries that trusted hops appended (from the right) are believed.
 *
 * Proxies write the hop they saw in several forms: a bare IPv4 or IPv6
 * address, `ip:port`, `[v6]` or `[v6]:port`, and `unknown` or an obfuscated
 * name (RFC 7239) when they hide it. Every address form is read; an entry that
 * is none of them stops the walk, and the last trusted hop is the client: the
 * entries left of an unreadable one were written by someone we cannot vouch for.
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
    const entries = value.split(',');
    let lastTrusted = peer;
    for (let i = entries.length - 1; i >= 0; i--) {
      const hop = parseForwardedHop(entries[i]);
      if (hop === undefined) return lastTrusted;
      if (!this.isTrusted(hop)) return hop;
      lastTrusted = hop;
    }
    return lastTrusted;
  }
}

const V4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;
const BRACKETED_V6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/;

/**
 * One X-Forwarded-For entry as an address (`1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
 * `[2001:db8::1]`, `[2001:db8::1]:80`), or undefined when it is none of them
 * (`unknown`, `_hidden`, garbage, an empty entry).
 */
export function parseForwardedHop(entry: string): string | undefined {
  const text = entry.trim();
  if (net.isIP(text) !== 0) return normalize(text);
  const v4 = V4_WITH_PORT.exec(text);
  if (v4) return net.isIPv4(v4[1]) && isPort(v4[2]) ? v4[1] : undefined;
  const v6 = BRACKETED_V6.exec(text);
  if (v6 && net.isIPv6(v6[1]) && (v6[2] === undefined || isPort(v6[2]))) return normalize(v6[1]);
  return undefined;
}

function isPort(digits: string): boolean {
  return Number(digits) <= 65535;
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
