/**
 * How each load stream proves itself, by dialect: a native stream's bearer
 * token (a ready one, or one signed per stream from a PEM private key with the
 * algorithm its key type implies), Exotel's Basic credentials, Twilio's
 * X-Twilio-Signature over the public URL the service checks.
 */
import { createHmac, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import type { Dialect } from './loadgen-options';

export interface CredentialOptions {
  readonly dialect: Dialect;
  readonly url: string;
  readonly token?: string;
  /** The PEM text of --private-key. */
  readonly privateKeyPem?: string;
  readonly tenant: string;
  readonly tenantClaim: string;
  readonly issuer?: string;
  readonly audience?: string;
  readonly basic?: string;
  readonly twilioAuthToken?: string;
  readonly twilioUrl?: string;
}

export class CredentialError extends Error {
  readonly code = 'credentials';
}

/** Token lifetime: longer than any run. */
const TOKEN_LIFETIME_S = 3600;

/** The JWT algorithm a private key signs with. */
export function algorithmFor(key: KeyObject): 'RS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : 'ES256';
    }
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new CredentialError(`a ${key.asymmetricKeyType ?? 'unknown'} key cannot sign tokens (RSA, EC or Ed25519)`);
  }
}

/** The PEM text of a private key that can sign tokens; throws, with the reason, before any thread starts. */
export function readPrivateKey(file: string): string {
  const pem = readFileSync(file, 'utf8');
  algorithmFor(createPrivateKey(pem)); // not a private key, or a type no JWT algorithm here signs with (DSA, X25519…)
  return pem;
}

/** The headers that open stream `interactionId`'s connection. */
export class StreamCredentials {
  private readonly key: KeyObject | undefined;
  private readonly algorithm: ReturnType<typeof algorithmFor> | undefined;
  private readonly twilioSignature: string | undefined;

  constructor(private readonly options: CredentialOptions) {
    if (options.privateKeyPem) {
      this.key = createPrivateKey(options.privateKeyPem);
      this.algorithm = algorithmFor(this.key);
    }
    if (options.dialect === 'twilio') {
      const publicUrl = options.twilioUrl ?? options.url.replace(/^ws:/, 'wss:');
      this.twilioSignature = createHmac('sha1', options.twilioAuthToken ?? '')
        .update(publicUrl, 'utf8')
        .digest('base64');
    }
  }

  headers(interactionId: string): Record<string, string> {
    switch (this.options.dialect) {
      case 'native':
        return { Authorization: `Bearer ${this.options.token ?? this.sign(interactionId)}` };
      case 'exotel':
        return this.options.basic
          ? { Authorization: `Basic ${Buffer.from(this.options.basic).toString('base64')}` }
          : {};
      case 'twilio':
        return { 'X-Twilio-Signature': this.twilioSignature ?? '' };
    }
  }

  /** One token per stream: the tenant claim, and the interaction the stream may use. */
  private sign(interactionId: string): string {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      [this.options.tenantClaim]: this.options.tenant,
      interaction_id: interactionId,
      iat: now,
      exp: now + TOKEN_LIFETIME_S,
    };
    if (this.options.issuer !== undefined) claims.iss = this.options.issuer;
    if (this.options.audience !== undefined) claims.aud = this.options.audience;
    if (this.algorithm === 'EdDSA') {
      // jsonwebtoken 9 does not sign EdDSA; the JWS is simple enough to write (RFC 8037).
      const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
      const input = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part(claims)}`;
      return `${input}.${sign(null, Buffer.from(input), this.key!).toString('base64url')}`;
    }
    return jwt.sign(claims, this.key!, { algorithm: this.algorithm });
  }
}
