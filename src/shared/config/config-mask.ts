/**
 * Masking of secrets, the keys the schema marks `sensitive`. Convict's own
 * toString() replaces such a value whole; here a URL keeps what an operator
 * needs to spot a typo, so the flag is convict's and the rendering ours.
 */
import { SENSITIVE_KEYS, type Config } from './config-schema';
import { deepFreeze } from './deep-freeze';

/** A copy for logs, with every sensitive value masked. */
export function maskedConfig(config: Readonly<Config>): Readonly<Config> {
  const copy = structuredClone(config) as Config;
  const fields = copy as unknown as Record<string, unknown>;
  for (const key of SENSITIVE_KEYS) {
    const value = copy[key];
    if (typeof value === 'string') fields[key] = maskSecret(value);
    else if (Array.isArray(value)) fields[key] = value.map((item) => maskSecret(String(item)));
  }
  return deepFreeze(copy);
}

/** A value as a problem report shows it: as given (JSON for non-strings), secrets masked. */
export function shownValue(key: keyof Config, raw: unknown): string {
  const sensitive = SENSITIVE_KEYS.includes(key);
  // A list of secrets shows each entry masked (none: nothing), never "****" for an empty list.
  if (sensitive && Array.isArray(raw)) return raw.map((item) => maskSecret(String(item))).join(',');
  const text = typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? String(raw));
  return sensitive ? maskSecret(text) : text;
}

const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)(?:([^/?#]*)@)?([^?]*)(\?.*)?$/is;

/**
 * Masks a secret: a URL keeps its scheme, user name, host and path (what an
 * operator needs to spot a typo) but loses its password and query; anything
 * else becomes ****.
 */
export function maskSecret(text: string): string {
  if (text === '') return '';
  const m = URL_PARTS.exec(text);
  if (!m || (m[3] ?? '').includes('@')) return '****';
  const [, scheme, userinfo, rest, query] = m;
  let user = '';
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    // No colon: the whole userinfo may be a password written in the user slot.
    user = colon < 0 ? '****@' : `${userinfo.slice(0, colon)}:****@`;
  }
  return `${scheme}${user}${rest}${query === undefined ? '' : '?****'}`;
}
