/**
 * Verifies the JWT a native stream presents on its upgrade request (protocol.md 1.1).
 * Runs once per connection: RS/ES verification costs tens of microseconds,
 * which is fine at connect time and never repeated per frame.
 *
 * The key is chosen before any signature is checked, so a bad token costs one
 * check, not one per configured key:
 * - a token whose `kid` is a PEM key's RFC 7638 thumbprint is checked against that key only;
 * - otherwise, with JWT_JWKS_URL, a `kid` is looked up in the key set (a lookup
 *   that may wait for a fetch: hence verify() is asynchronous), and a kid the set
 *   lacks is refused;
 * - a token without `kid`, or with one of the issuer's own naming when no key
 *   set is configured, is checked against each PEM key in turn (what PEM-only
 *   deployments always did).
 *
 * jsonwebtoken checks the signature (with an explicit algorithm list and its
 * key-type checks); the claims are checked here, so that each refusal names one
 * definite reason, and because the library treats `exp` as optional and never
 * looks at a future `iat`.
 */
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { isAsymmetricAlgorithm, isForbiddenAlgorithm } from '../../shared/auth/jwt-algorithms';
import { isJwtVerificationKey, jwkThumbprint, parsePublicKeys } from '../../shared/auth/public-keys';
import type { Config } from '../../shared/config/config-schema';
import { IngestError } from '../../shared/errors';
import type { Logger } from 'pino';
import type { WorkerStats } from '../metrics/worker-stats';
import { JwksKeySource } from './jwks-key-source';

/** What verifies native-stream tokens: the verifier, and the key source whose life its owner runs. */
export interface TokenVerification {
  /** Undefined when no key is configured (native streams are off). */
  readonly verifier: TokenVerifier | undefined;
  /** The key set of JWT_JWKS_URL: start() it before serving, close() it at shutdown. */
  readonly keySource: JwksKeySource | undefined;
}

/** The verifier of the configured PEM keys and JWT_JWKS_URL key set, either or both. */
export function createTokenVerification(
  config: Readonly<Config>,
  deps: { readonly logger: Logger; readonly stats: WorkerStats },
): TokenVerification {
  const keys = config.jwtPublicKey ? parsePublicKeys(config.jwtPublicKey) : [];
  const keySource = config.jwtJwksUrl
    ? new JwksKeySource({
        url: config.jwtJwksUrl,
        algorithms: config.jwtAlgorithms,
        refreshMs: config.jwtJwksRefreshMs,
        cooldownMs: config.jwtJwksCooldownMs,
        timeoutMs: config.jwtJwksTimeoutMs,
        maxAgeMs: config.jwtJwksCacheMaxAgeMs,
        logger: deps.logger,
        stats: deps.stats,
      })
    : undefined;
  if (keys.length === 0 && !keySource) return { verifier: undefined, keySource: undefined };
  // The kids tokens may name PEM keys by, so that an operator can hand them to the issuer.
  const pemKids = keys.map((key) => jwkThumbprint(key) ?? null);
  deps.logger.debug({ pem_kids: pemKids, jwks_url: config.jwtJwksUrl || null }, 'token verification keys');
  return { verifier: TokenVerifier.fromConfig(config, keys, keySource), keySource };
}

export interface VerifiedToken {
  tenantId: string;
  /** The `interaction_id` claim: when set, the stream may use only this interaction id. */
  interactionId?: string;
  subject?: string;
  /** When the token expires, in milliseconds since the epoch (the `exp` claim × 1000). */
  expiresAt: number;
}

export interface TokenVerifierOptions {
  /** The PEM keys (JWT_PUBLIC_KEY); may be empty when a key set is given. */
  keys: KeyObject[];
  /** The key set of JWT_JWKS_URL. */
  keySet?: Pick<JwksKeySource, 'find'>;
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
  /** The PEM keys by their thumbprint. */
  private readonly keysByKid: ReadonlyMap<string, KeyObject>;
  private readonly keySet: Pick<JwksKeySource, 'find'> | undefined;
  private readonly algorithms: jwt.Algorithm[];
  private readonly issuer: string | undefined;
  private readonly audience: string | undefined;
  private readonly tenantClaim: string;
  private readonly toleranceS: number;
  private readonly allowedTenants: ReadonlySet<string>;

  constructor(opts: TokenVerifierOptions) {
    if (opts.keys.length === 0 && !opts.keySet) throw new IngestError('config_invalid', 'no JWT public key configured');
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
    this.keysByKid = new Map(opts.keys.flatMap((key) => withKid(key)));
    this.keySet = opts.keySet;
    this.issuer = opts.issuer || undefined;
    this.audience = opts.audience || undefined;
    this.tenantClaim = opts.tenantClaim;
    this.toleranceS = opts.clockToleranceS;
    this.allowedTenants = new Set(opts.allowedTenants);
  }

  static fromConfig(config: Config, keys: KeyObject[], keySet?: Pick<JwksKeySource, 'find'>): TokenVerifier {
    return new TokenVerifier({
      keys,
      ...(keySet ? { keySet } : {}),
      algorithms: config.jwtAlgorithms,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      tenantClaim: config.jwtTenantClaim,
      clockToleranceS: config.jwtClockToleranceS,
      allowedTenants: config.allowedTenants,
    });
  }

  /**
   * Resolves with the token's identity, or rejects with IngestError (invalid_token,
   * missing_tenant, tenant_not_allowed; jwks_unavailable when its key cannot be fetched).
   */
  async verify(token: string): Promise<VerifiedToken> {
    const { alg, kid, claims } = decode(token);
    this.checkAlgorithm(alg);
    this.checkSignature(token, await this.keysFor(kid, alg));
    const expiresAt = this.checkTimes(claims);
    this.checkIssuerAndAudience(claims);
    return { ...this.identity(claims), expiresAt };
  }

  /** The keys the token's signature is checked against (see the header comment for the rule). */
  private async keysFor(kid: string | undefined, alg: string): Promise<Candidates> {
    if (kid === undefined) {
      if (this.keys.length > 0) return { keys: this.keys, named: 'any configured key' };
      throw invalid('token has no kid header (keys of JWT_JWKS_URL are chosen by kid)');
    }
    const pem = this.keysByKid.get(kid);
    if (pem) return { keys: [pem], named: `PEM key "${printable(kid)}"` };
    if (!this.keySet) return { keys: this.keys, named: 'any configured key' };
    const lookup = await this.keySet.find(kid, alg);
    if ('found' in lookup) return { keys: lookup.found, named: `key "${printable(kid)}" of the key set` };
    if (lookup.missing === 'unavailable') {
      // The fetch failure can name an internal address: logged, not sent.
      throw new IngestError('jwks_unavailable', `key "${printable(kid)}" is not held and the key set is unavailable`, {
        detail: lookup.reason,
      });
    }
    throw invalid(lookup.reason);
  }

  private checkAlgorithm(alg: string): void {
    if (isForbiddenAlgorithm(alg) || !this.algorithms.includes(alg as jwt.Algorithm)) {
      throw invalid(`algorithm ${printable(alg)} is not accepted`);
    }
  }

  /** Passes when one of the candidate keys verifies the signature (several: key rotation). */
  private checkSignature(token: string, candidates: Candidates): void {
    for (const key of candidates.keys) {
      try {
        // Claims are checked by checkTimes/checkIssuerAndAudience, so the
        // library's own (optional-exp) time checks are switched off here.
        jwt.verify(token, key, { algorithms: this.algorithms, ignoreExpiration: true, ignoreNotBefore: true });
        return;
      } catch {
        // Wrong key for this token (bad signature or key type): try the next one.
      }
    }
    throw invalid(`signature does not match ${candidates.named}`);
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

  /** What the service expects is logged, never sent: it would tell a forger which issuer and audience to claim. */
  private checkIssuerAndAudience(claims: Claims): void {
    const iss = claims['iss'];
    if (this.issuer !== undefined && iss !== this.issuer) {
      throw invalid(
        'issuer does not match',
        `expected ${this.issuer}, token has ${printable(JSON.stringify(iss) ?? '')}`,
      );
    }
    if (this.audience !== undefined) {
      const aud = claims['aud'];
      const audiences = Array.isArray(aud) ? aud : [aud];
      if (!audiences.includes(this.audience)) {
        throw invalid(
          'audience does not match',
          `expected ${this.audience}, token has ${printable(JSON.stringify(aud) ?? '')}`,
        );
      }
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

/** `detail` goes to the log line of the refusal only. */
function invalid(message: string, detail?: string): IngestError {
  return new IngestError('invalid_token', message, { detail });
}

/** The keys a signature is checked against, and how a refusal names them. */
interface Candidates {
  readonly keys: readonly KeyObject[];
  readonly named: string;
}

/** A PEM key under its thumbprint, when it has one. */
function withKid(key: KeyObject): Array<[string, KeyObject]> {
  const kid = jwkThumbprint(key);
  return kid === undefined ? [] : [[kid, key]];
}

/** Reads the header's alg and kid and the claims without trusting any of them yet. */
function decode(token: string): { alg: string; kid: string | undefined; claims: Claims } {
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
  const kid: unknown = header.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0)) {
    throw invalid('token header kid is not a non-empty string');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid('token payload is not a JSON object');
  }
  return { alg: header.alg, kid, claims: payload };
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
