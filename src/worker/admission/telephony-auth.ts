/**
 * How telephony providers prove themselves before the upgrade (protocol.md
 * 4.1, 4.2): Exotel by HTTP Basic credentials or by source address, Twilio by
 * X-Twilio-Signature. Secrets are compared in constant time, and through
 * digests of equal length, so neither their content nor their length leaks.
 */
import net from 'node:net';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { splitCredentialEntry } from '../../shared/config/telephony-entries';
import { addRange, normalize } from './client-address';

export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

/**
 * `Authorization: Basic <base64(user:password)>`; undefined when the header is
 * absent or another scheme. A Basic header that does not decode to user:password
 * yields empty credentials, which match nothing (refused, never "absent").
 */
export function parseBasicAuthorization(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*basic(?:\s+(\S*))?\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { user: '', password: '' };
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The EXOTEL_BASIC_AUTH entries, checked without early exit. */
export class BasicCredentialStore {
  private readonly entries: ReadonlyArray<{ readonly digest: Buffer; readonly tenant: string }>;

  constructor(entries: readonly string[]) {
    this.entries = entries.flatMap((entry) => {
      const parsed = splitCredentialEntry(entry);
      return parsed ? [{ digest: digest(`${parsed.user}:${parsed.password}`), tenant: parsed.tenant }] : [];
    });
  }

  get size(): number {
    return this.entries.length;
  }

  /** The tenant of matching credentials, or undefined. Every entry is compared, whatever matches. */
  tenantFor(credentials: BasicCredentials): string | undefined {
    // The user name is part of the digest: no lookup by user whose timing could reveal which users exist.
    const given = digest(`${credentials.user}:${credentials.password}`);
    let tenant: string | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(given, entry.digest)) tenant ??= entry.tenant;
    }
    return tenant;
  }
}

/** EXOTEL_ALLOWED_CIDRS as a net.BlockList (IPv4, IPv6, IPv4-mapped IPv6). */
export class AddressAllowList {
  private readonly list = new net.BlockList();
  readonly size: number;

  constructor(ranges: readonly string[]) {
    for (const range of ranges) addRange(this.list, range);
    this.size = ranges.length;
  }

  allows(address: string): boolean {
    if (this.size === 0) return false;
    const normalized = normalize(address);
    const family = net.isIPv6(normalized) ? 'ipv6' : net.isIPv4(normalized) ? 'ipv4' : undefined;
    return family !== undefined && this.list.check(normalized, family);
  }
}

/**
 * Twilio's request signature: base64 of HMAC-SHA1 keyed with the auth token,
 * over the full URL (a WebSocket upgrade has no POST parameters to append).
 */
export function twilioSignature(authToken: string, url: string): string {
  return createHmac('sha1', authToken).update(url, 'utf8').digest('base64');
}

/**
 * Checks X-Twilio-Signature against the configured public URL, never the Host
 * header or the request path a proxy may have rewritten. The https:// form of
 * the URL is a different string and fails, as it must.
 */
export class TwilioSignatureVerifier {
  private readonly expected: Buffer;

  constructor(authToken: string, publicUrl: string) {
    this.expected = digest(twilioSignature(authToken, publicUrl));
  }

  /** 'missing', 'invalid' or 'valid'. */
  check(req: IncomingMessage): 'missing' | 'invalid' | 'valid' {
    const header = req.headers['x-twilio-signature'];
    const value = Array.isArray(header) ? header[0] : header;
    if (value === undefined || value === '') return 'missing';
    return timingSafeEqual(digest(value.trim()), this.expected) ? 'valid' : 'invalid';
  }
}
