/**
 * Which keys of a fetched JSON Web Key Set may verify stream tokens: signing
 * keys, with a kid, of an asymmetric type, whose algorithm (when they name
 * one) is accepted (JWT_ALGORITHMS). A key set that also holds an HMAC secret
 * or an `alg: none` key is not refused: those keys are left out, and the others
 * serve. Pure: the key source counts and logs what is left out.
 */
import { isForbiddenAlgorithm } from '../../shared/auth/jwt-algorithms';

/** Why a key of the set is left out (the `reason` label of ingest_jwks_keys_ignored_total). */
export type IgnoredKeyReason = 'hmac_or_none' | 'not_signing' | 'no_kid' | 'algorithm' | 'unsupported';

export interface IgnoredKey {
  readonly kid: string | undefined;
  readonly reason: IgnoredKeyReason;
}

export interface ScreenedKeySet {
  /** The keys that may verify tokens, as published (JWK objects). */
  readonly usable: Array<Record<string, unknown>>;
  readonly ignored: IgnoredKey[];
}

/** Key types that verify the accepted algorithms: RSA (RS, PS) and EC (ES). */
const ASYMMETRIC_KEY_TYPES: ReadonlySet<unknown> = new Set(['RSA', 'EC']);

/** Throws when `body` is not a key set at all ({"keys": [...]}); otherwise sorts its keys. */
export function screenKeySet(body: unknown, acceptedAlgorithms: readonly string[]): ScreenedKeySet {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { keys?: unknown }).keys)) {
    throw new Error('the answer is not a JSON Web Key Set (no "keys" array)');
  }
  const usable: Array<Record<string, unknown>> = [];
  const ignored: IgnoredKey[] = [];
  for (const jwk of (body as { keys: unknown[] }).keys) {
    const key = typeof jwk === 'object' && jwk !== null && !Array.isArray(jwk) ? (jwk as Record<string, unknown>) : {};
    const kid = typeof key['kid'] === 'string' && key['kid'] !== '' ? key['kid'] : undefined;
    const reason = whyIgnored(key, kid, acceptedAlgorithms);
    if (reason) ignored.push({ kid, reason });
    else usable.push(key);
  }
  return { usable, ignored };
}

function whyIgnored(
  jwk: Record<string, unknown>,
  kid: string | undefined,
  accepted: readonly string[],
): IgnoredKeyReason | undefined {
  const alg = jwk['alg'];
  if (jwk['kty'] === 'oct' || (typeof alg === 'string' && isForbiddenAlgorithm(alg))) return 'hmac_or_none';
  if (jwk['use'] !== undefined && jwk['use'] !== 'sig') return 'not_signing';
  if (kid === undefined) return 'no_kid';
  if (alg !== undefined && (typeof alg !== 'string' || !accepted.includes(alg))) return 'algorithm';
  if (!ASYMMETRIC_KEY_TYPES.has(jwk['kty']) || 'd' in jwk) return 'unsupported';
  return undefined;
}
