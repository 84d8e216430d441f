/**
 * The custom convict formats of the schema. Each checks one value (rules that
 * relate several keys are in config-rules.ts) and carries the type of the
 * values it accepts, which is how `Config` is derived from the schema.
 *
 * A format's `name` is its convict format name and also the "allowed values"
 * column of docs/config.md; convict keeps formats in one registry by name, so
 * two different formats may never share one (registerFormats refuses it).
 */
import net from 'node:net';
import convict from 'convict';
import { ASYMMETRIC_ALGORITHMS, isAsymmetricAlgorithm } from '../auth/jwt-algorithms';
import { splitCredentialEntry, splitTenantEntry } from './telephony-entries';

export interface ValueFormat<T> {
  readonly name: string;
  /** Throws an Error whose message says what would have been accepted. */
  validate(value: unknown): asserts value is T;
  /** Turns an environment (or CONFIG_FILE) string into a value; convict calls it for strings only. */
  readonly coerce?: (value: string) => unknown;
}

const registered = new Map<string, ValueFormat<unknown>>();

/** Hands formats to convict (convict.addFormats), each under its name, once. */
export function registerFormats(formats: Iterable<ValueFormat<unknown>>): void {
  const fresh: Record<string, convict.Format> = {};
  for (const format of formats) {
    const known = registered.get(format.name);
    if (known === format) continue;
    if (known) throw new Error(`two configuration formats are named "${format.name}"; convict would keep only one`);
    registered.set(format.name, format);
    fresh[format.name] = { validate: (value: unknown) => format.validate(value), coerce: format.coerce };
  }
  convict.addFormats(fresh);
}

/** Factories return the same format for the same arguments, so one name is always one format. */
function memo<T>(cache: Map<string, ValueFormat<T>>, name: string, make: () => ValueFormat<T>): ValueFormat<T> {
  let format = cache.get(name);
  if (!format) cache.set(name, (format = make()));
  return format;
}

const intRanges = new Map<string, ValueFormat<number>>();

/** An integer range; convict's own `int` gives no range and a terse message. */
export function intRange(min: number, max: number): ValueFormat<number> {
  const name = `int ${min}-${max}`;
  return memo(intRanges, name, () => ({
    name,
    validate(value: unknown): asserts value is number {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new Error(`an integer from ${min} to ${max}`);
      }
    },
    coerce: (value: string) => (/^-?\d+$/.test(value.trim()) ? Number(value) : value),
  }));
}

/**
 * Comma-separated list in the environment, array in a JSON file. Each list gets
 * its own `name`, shown in docs/config.md as the allowed values. `T` narrows
 * the items when `check` admits only those.
 */
export function list<T extends string = string>(
  check?: (item: string) => string | undefined,
  opts: { name?: string; nonEmpty?: boolean } = {},
): ValueFormat<T[]> {
  const name = opts.name ?? 'comma-separated list';
  return {
    name,
    validate(value: unknown): asserts value is T[] {
      if (!Array.isArray(value)) throw new Error(name);
      if (opts.nonEmpty && value.length === 0) throw new Error(`${name}, not empty`);
      for (const item of value) {
        if (typeof item !== 'string') throw new Error('a comma-separated list of strings');
        const problem = check?.(item);
        if (problem) throw new Error(problem);
      }
    },
    coerce: (value: string) =>
      value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
  };
}

const oneOfs = new Map<string, ValueFormat<string>>();

export function oneOf<const T extends string>(values: readonly T[]): ValueFormat<T> {
  const name = values.join(' | ');
  return memo(oneOfs, name, () => ({
    name,
    validate(value: unknown): asserts value is T {
      if (typeof value !== 'string' || !values.includes(value as T)) {
        throw new Error(`one of: ${values.join(', ')}`);
      }
    },
  }));
}

export const bool: ValueFormat<boolean> = {
  name: 'boolean',
  validate(value: unknown): asserts value is boolean {
    if (typeof value !== 'boolean') throw new Error('true or false');
  },
  coerce: (value: string) => {
    const v = value.trim().toLowerCase();
    if (v === 'true' || v === '1' || v === 'yes') return true;
    if (v === 'false' || v === '0' || v === 'no' || v === '') return false;
    return value;
  },
};

export const str: ValueFormat<string> = {
  name: 'string',
  validate(value: unknown): asserts value is string {
    if (typeof value !== 'string') throw new Error('a string');
  },
};

export const redisUrl: ValueFormat<string> = {
  name: 'redis:// or rediss:// URL',
  validate(value: unknown): asserts value is string {
    if (value === '') return; // required only for redis_streams: a cross-key rule
    if (typeof value !== 'string') throw new Error('a redis:// or rediss:// URL');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error('a redis:// or rediss:// URL');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('a redis:// or rediss:// URL');
    if (!url.hostname) throw new Error('a redis:// or rediss:// URL with a host');
  },
};

export const twilioPublicUrl: ValueFormat<string> = {
  name: 'wss:// URL without query',
  validate(value: unknown): asserts value is string {
    if (value === '') return; // Twilio is off: checked with TWILIO_AUTH_TOKEN in the cross-key rules
    let url: URL | undefined;
    try {
      url = typeof value === 'string' ? new URL(value) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== 'wss:' || !url.hostname)
      throw new Error('the wss:// URL given to Twilio in <Stream url>, path included');
    // Twilio refuses stream URLs with a query string (error 31920) and signs the URL as given.
    if (url.search !== '' || url.hash !== '' || String(value).includes('?'))
      throw new Error('a wss:// URL without query string or fragment (Twilio refuses them; use <Parameter>)');
  },
};

/** A loopback host: 127.0.0.0/8, ::1 or localhost (plain http is allowed only there). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return net.isIPv4(host) && host.startsWith('127.');
}

/**
 * JWT_JWKS_URL: https, or plain http to a loopback address (a local identity
 * proxy), since keys fetched over a network in clear could be swapped in transit.
 */
export const jwksUrl: ValueFormat<string> = {
  name: 'https:// URL (http:// to a loopback address)',
  validate(value: unknown): asserts value is string {
    if (value === '') return; // no key set: PEM keys only
    let url: URL | undefined;
    try {
      url = typeof value === 'string' ? new URL(value) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || !url.hostname || (url.protocol !== 'https:' && url.protocol !== 'http:'))
      throw new Error('an https:// URL of a JSON Web Key Set');
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
      throw new Error(
        'an https:// URL (plain http:// only to a loopback address: 127.0.0.0/8, ::1 or localhost; ' +
          'keys fetched in clear could be replaced on the way)',
      );
    if (url.username || url.password)
      throw new Error('a URL without credentials (a key set is public: the worker sends none)');
  },
};

export function checkHostPort(entry: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
  if (!m) return `host:port entries (got "${entry}")`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `host:port entries with a port from 1 to 65535 (got "${entry}")`;
  return undefined;
}

export function checkAlgorithm(alg: string): string | undefined {
  if (isAsymmetricAlgorithm(alg)) return undefined;
  const accepted = ASYMMETRIC_ALGORITHMS.join(', ');
  return `asymmetric JWT algorithms only, from ${accepted} (got "${alg}"; none and HMAC are never accepted)`;
}

export function checkCidr(entry: string): string | undefined {
  const [addr, bits, extra] = entry.split('/');
  if (extra !== undefined || !addr) return `IPv4/IPv6 addresses or CIDR ranges (got "${entry}")`;
  const family = net.isIP(addr);
  if (family === 0) return `IPv4/IPv6 addresses or CIDR ranges (got "${entry}")`;
  if (bits !== undefined) {
    const max = family === 4 ? 32 : 128;
    if (!/^\d+$/.test(bits) || Number(bits) > max) return `a prefix length from 0 to ${max} (got "${entry}")`;
  }
  return undefined;
}

export function checkCredentialEntry(entry: string): string | undefined {
  // Never echo the entry: it holds a password.
  return splitCredentialEntry(entry)
    ? undefined
    : 'user:password=tenant entries (an entry is malformed: user, password and tenant must all be present)';
}

export function checkTenantEntry(entry: string): string | undefined {
  return splitTenantEntry(entry) ? undefined : `account_sid=tenant entries (got "${entry}")`;
}
