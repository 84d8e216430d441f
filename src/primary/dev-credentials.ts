/**
 * Development credentials: outside production, when no JWT key (PEM or JWKS) is configured, the
 * primary makes a throwaway ES256 key pair at start so that `npm start` works
 * without setup, and prints one token and a client command to try it with.
 * The private key lives only inside createDevCredentials: nothing can mint
 * another token once it returns, and a restart invalidates the old one.
 */
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../shared/config/config-schema';

export const DEV_TENANT_ID = 'dev-tenant';
export const DEV_SUBJECT = 'dev';
const DEFAULT_TTL_S = 3600;

export interface DevCredentialsOptions {
  tenantId?: string;
  ttlSeconds?: number;
  /** Claim that names the tenant (JWT_TENANT_CLAIM); default tenant_id. */
  tenantClaim?: string;
  /** Set when JWT_ISSUER / JWT_AUDIENCE are configured, so the token passes those checks. */
  issuer?: string;
  audience?: string;
}

export interface DevCredentials {
  publicKeyPem: string;
  token: string;
  expiresAt: Date;
}

/** Whether the primary should make development credentials for this configuration. */
export function needsDevCredentials(
  config: Pick<Config, 'nodeEnv' | 'jwtPublicKey' | 'jwtPublicKeyFile' | 'jwtJwksUrl'>,
): boolean {
  const noKey = config.jwtPublicKey === '' && config.jwtPublicKeyFile === '' && config.jwtJwksUrl === '';
  return config.nodeEnv !== 'production' && noKey;
}

export function createDevCredentials(opts: DevCredentialsOptions = {}): DevCredentials {
  const ttl = opts.ttlSeconds ?? DEFAULT_TTL_S;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError(`ttlSeconds must be a positive integer (got ${ttl})`);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Math.floor(Date.now() / 1000);
  const exp = now + ttl;
  const claims: Record<string, unknown> = {
    [opts.tenantClaim ?? 'tenant_id']: opts.tenantId ?? DEV_TENANT_ID,
    sub: DEV_SUBJECT,
    iat: now,
    exp,
  };
  if (opts.issuer) claims['iss'] = opts.issuer;
  if (opts.audience) claims['aud'] = opts.audience;
  const token = jwt.sign(claims, privateKey, { algorithm: 'ES256' });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    token,
    expiresAt: new Date(exp * 1000),
  };
}

/** One line to paste into a second terminal (flags of src/client/cli.ts). */
export function devClientCommand(opts: { port: number; token: string; tls: boolean }): string {
  const scheme = opts.tls ? 'wss' : 'ws';
  return `npm run client -- --url ${scheme}://localhost:${opts.port}/v1/ingest --token ${opts.token}`;
}
