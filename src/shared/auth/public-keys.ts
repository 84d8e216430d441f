/**
 * Parses JWT_PUBLIC_KEY / JWT_PUBLIC_KEY_FILE: one or more PEM public keys (or
 * certificates) concatenated, so that keys can be rotated by listing old and new;
 * and names each key by its JWK thumbprint, the `kid` a token uses to pick it.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

export class PublicKeyParseError extends Error {}

/** The key types that verify the algorithms of jwt-algorithms.ts: RSA for RS and PS, EC for ES. */
const JWT_KEY_TYPES: ReadonlySet<string> = new Set(['rsa', 'rsa-pss', 'ec']);

/** Whether `key` can verify a stream token: anything else is refused when the keys are loaded. */
export function isJwtVerificationKey(key: KeyObject): boolean {
  return key.type === 'public' && JWT_KEY_TYPES.has(key.asymmetricKeyType ?? '');
}

/** Returns every key in `pem`; throws PublicKeyParseError naming the bad block. */
export function parsePublicKeys(pem: string): KeyObject[] {
  const text = pem.replace(/\\n/g, '\n'); // keys pasted into one-line env values
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new PublicKeyParseError('no PEM block (-----BEGIN PUBLIC KEY-----) found');
  return blocks.map((block, i) => {
    if (/PRIVATE KEY/.test(block.split('\n')[0] ?? '')) {
      throw new PublicKeyParseError(`PEM block ${i + 1} is a private key; configure the public key only`);
    }
    try {
      const key = createPublicKey(block);
      if (!isJwtVerificationKey(key)) {
        throw new PublicKeyParseError(`PEM block ${i + 1} is a ${key.asymmetricKeyType} key, not RSA or EC`);
      }
      return key;
    } catch (err) {
      if (err instanceof PublicKeyParseError) throw err;
      throw new PublicKeyParseError(`PEM block ${i + 1} is not a valid public key: ${(err as Error).message}`);
    }
  });
}

/** The members RFC 7638 hashes for each key type, in the lexicographic order it requires. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
};

/**
 * The key's RFC 7638 JWK thumbprint (SHA-256, base64url): the `kid` under which
 * a PEM key is known, so that a token naming it is checked against that key
 * only. Undefined for a key with no JWK form (an RSA-PSS-restricted key).
 */
export function jwkThumbprint(key: KeyObject): string | undefined {
  let jwk: Record<string, unknown>;
  try {
    jwk = key.export({ format: 'jwk' });
  } catch {
    return undefined;
  }
  const members = THUMBPRINT_MEMBERS[String(jwk['kty'])];
  if (!members) return undefined;
  // JSON of the required members only, no whitespace: every value here is a plain base64url or name string.
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}
