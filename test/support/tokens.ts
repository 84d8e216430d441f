/**
 * Mints tokens for tests: valid ones, and each kind of bad one the verifier must
 * refuse. The alg-none and HMAC-with-the-public-key tokens are built by hand,
 * because jsonwebtoken 9 rightly refuses to sign them.
 */
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface TestKeyPair {
  publicKeyPem: string;
  privateKey: KeyObject;
}

export type Claims = Record<string, unknown>;

export interface SignOptions {
  /** Default: RS256 for an RSA key, ES256 for an EC key. */
  algorithm?: jwt.Algorithm;
  /** Claims to leave out of the defaults, e.g. ['exp'] or ['tenant_id']. */
  omit?: string[];
  kid?: string;
}

export const DEFAULT_TENANT = 'tenant-a';

export function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

export function makeKeyPair(kind: 'rsa' | 'ec' = 'rsa'): TestKeyPair {
  const { publicKey, privateKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

/** tenant_id 'tenant-a', iat now, exp in one hour; `claims` override or add. */
export function defaultClaims(claims: Claims = {}, omit: string[] = []): Claims {
  const now = nowS();
  const all: Claims = { tenant_id: DEFAULT_TENANT, iat: now, exp: now + 3600, ...claims };
  for (const name of omit) delete all[name];
  return all;
}

export function signToken(privateKey: KeyObject, claims: Claims = {}, opts: SignOptions = {}): string {
  const algorithm = opts.algorithm ?? (privateKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256');
  const signOpts: jwt.SignOptions = { algorithm };
  if (opts.kid !== undefined) signOpts.keyid = opts.kid;
  return jwt.sign(defaultClaims(claims, opts.omit), privateKey, signOpts);
}

export function expiredToken(privateKey: KeyObject, secondsAgo = 3600, claims: Claims = {}): string {
  const now = nowS();
  return signToken(privateKey, { iat: now - secondsAgo - 60, exp: now - secondsAgo, ...claims });
}

export function notYetValidToken(privateKey: KeyObject, inSeconds = 3600, claims: Claims = {}): string {
  return signToken(privateKey, { nbf: nowS() + inSeconds, exp: nowS() + inSeconds + 3600, ...claims });
}

export function noExpToken(privateKey: KeyObject, claims: Claims = {}): string {
  return signToken(privateKey, claims, { omit: ['exp'] });
}

export function noTenantToken(privateKey: KeyObject, claims: Claims = {}): string {
  return signToken(privateKey, claims, { omit: ['tenant_id'] });
}

export function wrongIssuerToken(privateKey: KeyObject, iss = 'https://someone-else.example'): string {
  return signToken(privateKey, { iss });
}

export function wrongAudienceToken(privateKey: KeyObject, aud = 'someone-else'): string {
  return signToken(privateKey, { aud });
}

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** `{"alg":"none"}` header, the claims, and an empty signature. */
export function unsignedToken(claims: Claims = {}, alg = 'none'): string {
  return `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(defaultClaims(claims)))}.`;
}

/** The algorithm-confusion attack: HS256 keyed with the server's public key PEM. */
export function hmacTokenWithPublicKey(
  publicKeyPem: string,
  claims: Claims = {},
  alg: 'HS256' | 'HS384' | 'HS512' = 'HS256',
): string {
  const header = b64url(JSON.stringify({ alg, typ: 'JWT' }));
  const signingInput = `${header}.${b64url(JSON.stringify(defaultClaims(claims)))}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  const signature = createHmac(hash, publicKeyPem).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
