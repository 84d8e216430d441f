/**
 * The JWT algorithms this service can ever accept. Asymmetric only, so that a
 * public key can never double as an HMAC secret (algorithm confusion); and only
 * those jsonwebtoken 9 verifies with a public key (EdDSA is not among them).
 * JWT_ALGORITHMS is validated against this list and the verifier checks it
 * again, so the two can never disagree.
 */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
] as const;

export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export function isAsymmetricAlgorithm(alg: string): alg is AsymmetricAlgorithm {
  return (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg);
}

/**
 * `none` and every HMAC algorithm: refused whatever the configuration says
 * (algorithm confusion), in a token's header and in a fetched key set alike.
 */
export function isForbiddenAlgorithm(alg: string): boolean {
  return alg.toLowerCase() === 'none' || /^hs/i.test(alg);
}
