/**
 * Verifies the JWT a native stream presents on its upgrade request (protocol.md 1.1).
 * Runs once per connection, synchronously: RS/ES verification costs tens of
 * microseconds, which is fine at connect time and never repeated per frame.
 *
 * jsonwebtoken checks the signature (with an explicit algorithm list and its
 * key-type checks); the claims are checked here, because several keys may be
 * configured and each refusal must name one definite reason, and because the
 * library treats `exp` as optional and never looks at a future `iat`.
 */
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { isAsymmetricAlgorithm, isForbiddenAlgorithm } from '../../shared/auth/jwt-algorithms';
import { isJwtVerificationKey } from '../../shared/auth/public-keys';
import type { Config } from '../../shared/config/config-schema';
import { IngestError } from '../../shared/errors';

export interface VerifiedToken {
  tenantId: string;
  /** The `interaction_id` claim: when set, the stream may use only this interaction id. */
  interactionId?: string;
  subject?: string;
  /** When the token expires, in milliseconds since the epoch (the `exp` claim × 1000). */
  expiresAt: number;
}

export interface TokenVerifierOptions {
  keys: KeyObject[];
  algorithms: string[];
  issuer?: string;
  audience?: string;
  tenantClaim: string;
  clockToleranceS: number;
  allowedTenants: string[];
}

type Claims = Record<string, unknown>;

export class TokenVerifier {
  private readonly keys: readonly KeyObject[];
  private readonly algorithms: jwt.Algorithm[];
  private readonly issuer: string | undefined;
  private readonly audience: string | undefined;
  private readonly tenantClaim: string;
  private readonly toleranceS: number;
  private readonly allowedTenants: ReadonlySet<string>;

  constructor(opts: TokenVerifierOptions) {
    if (opts.keys.length === 0) throw new IngestError('config_invalid', 'no JWT public key configured');
    for (const key of opts.keys) {
      if (!isJwtVerificationKey(key)) {
        throw new IngestError(
          'config_invalid',
          `JWT public keys must be RSA or EC public keys (got ${key.type} ${key.asymmetricKeyType ?? 'key'})`,
        );
      }
    }
    const unsupported = opts.algorithms.filter((alg) => !isForbiddenAlgorithm(alg) && !isAsymmetricAlgorithm(alg));
    if (unsupported.length > 0) {
      throw new IngestError(
        'config_invalid',
        `JWT algorithms not supported by the verifier: ${unsupported.join(', ')}`,
      );
    }
    // Config validation already refuses these; stripping them again keeps a
    // hand-built verifier from ever accepting an HMAC or unsigned token.
    this.algorithms = opts.algorithms.filter((alg) => !isForbiddenAlgorithm(alg)) as jwt.Algorithm[];
    if (this.algorithms.length === 0) throw new IngestError('config_invalid', 'no asymmetric JWT algorithm configured');
    if (!Number.isFinite(opts.clockToleranceS) || opts.clockToleranceS < 0) {
      throw new IngestError('config_invalid', 'JWT clock tolerance must be a non-negative number of seconds');
    }
    this.keys = [...opts.keys];
    this.issuer = opts.issuer || undefined;
    this.audience = opts.audience || undefined;
    this.tenantClaim = opts.tenantClaim;
    this.toleranceS = opts.clockToleranceS;
    this.allowedTenants = new Set(opts.allowedTenants);
  }

  static fromConfig(config: Config, keys: KeyObject[]): TokenVerifier {
    return new TokenVerifier({
      keys,
      algorithms: config.jwtAlgorithms,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      tenantClaim: config.jwtTenantClaim,
      clockToleranceS: config.jwtClockToleranceS,
      allowedTenants: config.allowedTenants,
    });
  }

  /** Returns the token's identity, or throws IngestError (invalid_token, missing_tenant, tenant_not_allowed). */
  verify(token: string): VerifiedToken {
    const { alg, claims } = decode(token);
    this.checkAlgorithm(alg);
    this.checkSignature(token);
    const expiresAt = this.checkTimes(claims);
    this.checkIssuerAndAudience(claims);
    return { ...this.identity(claims), expiresAt };
  }

  private checkAlgorithm(alg: string): void {
    if (isForbiddenAlgorithm(alg) || !this.algorithms.includes(alg as jwt.Algorithm)) {
      throw invalid(`algorithm ${printable(alg)} is not accepted`);
    }
  }

  /** A token signed by any configured key passes (key rotation). */
  private checkSignature(token: string): void {
    for (const key of this.keys) {
      try {
        // Claims are checked by checkTimes/checkIssuerAndAudience, so the
        // library's own (optional-exp) time checks are switched off here.
        jwt.verify(token, key, { algorithms: this.algorithms, ignoreExpiration: true, ignoreNotBefore: true });
        return;
      } catch {
        // Wrong key for this token (bad signature or key type): try the next one.
      }
    }
    throw invalid('signature does not match any configured key');
  }

  /** Returns exp in milliseconds. */
  private checkTimes(claims: Claims): number {
    const now = Math.floor(Date.now() / 1000);
    const exp = numericClaim(claims, 'exp');
    if (exp === undefined) throw invalid('token has no exp claim');
    if (now >= exp + this.toleranceS) throw invalid(`token expired at ${isoTime(exp)}`);
    const nbf = numericClaim(claims, 'nbf');
    if (nbf !== undefined && nbf > now + this.toleranceS) throw invalid(`token is not valid before ${isoTime(nbf)}`);
    const iat = numericClaim(claims, 'iat');
    if (iat !== undefined && iat > now + this.toleranceS)
      throw invalid(`token is issued in the future (iat ${isoTime(iat)})`);
    return exp * 1000;
  }

  private checkIssuerAndAudience(claims: Claims): void {
    if (this.issuer !== undefined && claims['iss'] !== this.issuer) {
      throw invalid(`issuer does not match (expected ${this.issuer})`);
    }
    if (this.audience !== undefined) {
      const aud = claims['aud'];
      const audiences = Array.isArray(aud) ? aud : [aud];
      if (!audiences.includes(this.audience)) throw invalid(`audience does not match (expected ${this.audience})`);
    }
  }

  private identity(claims: Claims): Omit<VerifiedToken, 'expiresAt'> {
    const tenant = claims[this.tenantClaim];
    if (tenant === undefined) throw new IngestError('missing_tenant', `token has no ${this.tenantClaim} claim`);
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new IngestError('missing_tenant', `${this.tenantClaim} claim is not a non-empty string`);
    }
    if (this.allowedTenants.size > 0 && !this.allowedTenants.has(tenant)) {
      throw new IngestError('tenant_not_allowed', `tenant ${printable(tenant)} is not allowed`);
    }
    const result: Omit<VerifiedToken, 'expiresAt'> = { tenantId: tenant };
    const interaction = claims['interaction_id'];
    if (interaction !== undefined) {
      // Ignoring a malformed claim would widen what the token allows: refuse instead.
      if (typeof interaction !== 'string' || interaction.length === 0) {
        throw invalid('interaction_id claim is not a non-empty string');
      }
      result.interactionId = interaction;
    }
    if (typeof claims['sub'] === 'string') result.subject = claims['sub'];
    return result;
  }
}

function invalid(message: string): IngestError {
  return new IngestError('invalid_token', message);
}

/** Reads the header's alg and the claims without trusting either yet. */
function decode(token: string): { alg: string; claims: Claims } {
  if (typeof token !== 'string' || token.length === 0) throw invalid('token is empty');
  if (token.split('.').length !== 3) throw invalid('token is malformed (not three dot-separated parts)');
  let decoded: jwt.Jwt | null;
  try {
    decoded = jwt.decode(token, { complete: true });
  } catch {
    decoded = null;
  }
  if (decoded === null) throw invalid('token is malformed (header or payload is not base64url JSON)');
  const { header, payload } = decoded;
  if (typeof header.alg !== 'string') throw invalid('token header has no alg');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid('token payload is not a JSON object');
  }
  return { alg: header.alg, claims: payload };
}

function numericClaim(claims: Claims, name: string): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${name} claim is not a number`);
  return value;
}

function isoTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds} s after the epoch` : date.toISOString();
}

/** Token-supplied text in a message: bounded and printable, so logs stay one clean line. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
