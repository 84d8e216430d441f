import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { ASYMMETRIC_ALGORITHMS } from '../../../src/shared/auth/jwt-algorithms';
import { loadConfig } from '../../../src/shared/config/config';
import { DEFAULT_JWT_ALGORITHMS } from '../../../src/shared/config/config-schema';
import { IngestError, type ErrorCode } from '../../../src/shared/errors';
import { parsePublicKeys } from '../../../src/shared/auth/public-keys';
import { TokenVerifier, type TokenVerifierOptions } from '../../../src/worker/admission/token-verifier';
import {
  expiredToken,
  hmacTokenWithPublicKey,
  makeKeyPair,
  noExpToken,
  noTenantToken,
  notYetValidToken,
  nowS,
  signToken,
  unsignedToken,
  wrongAudienceToken,
  wrongIssuerToken,
} from '../../support/tokens';

const rsa = makeKeyPair('rsa');
const rsa2 = makeKeyPair('rsa');
const ec = makeKeyPair('ec');

function verifier(overrides: Partial<TokenVerifierOptions> = {}): TokenVerifier {
  return new TokenVerifier({
    keys: parsePublicKeys(rsa.publicKeyPem + ec.publicKeyPem),
    algorithms: DEFAULT_JWT_ALGORITHMS,
    tenantClaim: 'tenant_id',
    clockToleranceS: 30,
    allowedTenants: [],
    ...overrides,
  });
}

function assertRefused(v: TokenVerifier, token: string, code: ErrorCode, message?: RegExp): IngestError {
  let caught: unknown;
  try {
    v.verify(token);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof IngestError, `expected IngestError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('TokenVerifier', () => {
  test('a valid RS256 token gives its tenant, subject and expiry', () => {
    const exp = nowS() + 600;
    const result = verifier().verify(signToken(rsa.privateKey, { sub: 'svc-1', exp }));
    assert.deepEqual(result, { tenantId: 'tenant-a', subject: 'svc-1', expiresAt: exp * 1000 });
  });

  test('a valid ES256 token is accepted', () => {
    assert.equal(verifier().verify(signToken(ec.privateKey)).tenantId, 'tenant-a');
  });

  test('key rotation: a token signed by the second configured key is accepted', () => {
    const v = verifier({ keys: parsePublicKeys(rsa.publicKeyPem + rsa2.publicKeyPem) });
    assert.equal(v.verify(signToken(rsa2.privateKey, { tenant_id: 't2' })).tenantId, 't2');
  });

  test('a token without exp is refused (exp is required)', () => {
    assertRefused(verifier(), noExpToken(rsa.privateKey), 'invalid_token', /no exp/);
  });

  test('a malformed token is refused', () => {
    for (const token of ['abc', 'a.b.c', '', 'a.b', 'x.y.z.w'])
      assertRefused(verifier(), token, 'invalid_token', /malformed|empty/);
  });

  test('a token signed by an unknown key is refused', () => {
    const stranger = makeKeyPair('rsa');
    assertRefused(verifier(), signToken(stranger.privateKey), 'invalid_token', /signature/);
  });

  test('alg none is refused', () => {
    assertRefused(verifier(), unsignedToken(), 'invalid_token', /algorithm none is not accepted/);
    assertRefused(verifier(), unsignedToken({}, 'NONE'), 'invalid_token', /not accepted/);
  });

  test('HS256 signed with the public key as HMAC secret is refused', () => {
    assertRefused(
      verifier(),
      hmacTokenWithPublicKey(rsa.publicKeyPem),
      'invalid_token',
      /algorithm HS256 is not accepted/,
    );
  });

  test('HMAC is refused even when the configuration lists it', () => {
    const v = verifier({ algorithms: ['HS256', 'RS256'] });
    assertRefused(v, hmacTokenWithPublicKey(rsa.publicKeyPem), 'invalid_token', /HS256 is not accepted/);
    assert.equal(v.verify(signToken(rsa.privateKey)).tenantId, 'tenant-a');
    assert.throws(() => verifier({ algorithms: ['HS256', 'none'] }), { code: 'config_invalid' });
  });

  test('an expired token is refused and the message says when it expired', () => {
    const exp = nowS() - 3600;
    const err = assertRefused(
      verifier(),
      expiredToken(rsa.privateKey, 3600, { exp }),
      'invalid_token',
      /token expired at/,
    );
    assert.ok(err.message.includes(new Date(exp * 1000).toISOString()), err.message);
  });

  test('a token expired within the clock tolerance is accepted', () => {
    assert.equal(verifier({ clockToleranceS: 30 }).verify(expiredToken(rsa.privateKey, 10)).tenantId, 'tenant-a');
    assertRefused(verifier({ clockToleranceS: 0 }), expiredToken(rsa.privateKey, 10), 'invalid_token', /expired/);
  });

  test('a token whose nbf is in the future is refused', () => {
    assertRefused(verifier(), notYetValidToken(rsa.privateKey, 3600), 'invalid_token', /not valid before/);
    assert.equal(verifier().verify(notYetValidToken(rsa.privateKey, 10)).tenantId, 'tenant-a');
  });

  test('a token issued in the future beyond the tolerance is refused', () => {
    assertRefused(
      verifier(),
      signToken(rsa.privateKey, { iat: nowS() + 3600 }),
      'invalid_token',
      /issued in the future/,
    );
  });

  test('a token with the wrong issuer is refused', () => {
    assertRefused(
      verifier({ issuer: 'https://auth.example' }),
      wrongIssuerToken(rsa.privateKey),
      'invalid_token',
      /issuer does not match/,
    );
    assertRefused(verifier({ issuer: 'https://auth.example' }), signToken(rsa.privateKey), 'invalid_token', /issuer/);
  });

  test('a token with the wrong audience is refused', () => {
    assertRefused(
      verifier({ audience: 'ingest' }),
      wrongAudienceToken(rsa.privateKey),
      'invalid_token',
      /audience does not match/,
    );
    assertRefused(verifier({ audience: 'ingest' }), signToken(rsa.privateKey), 'invalid_token', /audience/);
  });

  test('a token with the configured issuer and audience is accepted', () => {
    const v = verifier({ issuer: 'https://auth.example', audience: 'ingest' });
    assert.equal(
      v.verify(signToken(rsa.privateKey, { iss: 'https://auth.example', aud: 'ingest' })).tenantId,
      'tenant-a',
    );
    assert.equal(
      v.verify(signToken(rsa.privateKey, { iss: 'https://auth.example', aud: ['other', 'ingest'] })).tenantId,
      'tenant-a',
    );
  });

  test('a token without the tenant claim is refused with missing_tenant', () => {
    const err = assertRefused(verifier(), noTenantToken(rsa.privateKey), 'missing_tenant', /tenant_id/);
    assert.equal(err.status, 401);
    assertRefused(verifier(), signToken(rsa.privateKey, { tenant_id: '' }), 'missing_tenant');
    assertRefused(verifier(), signToken(rsa.privateKey, { tenant_id: 42 }), 'missing_tenant');
  });

  test('the tenant claim name is configurable', () => {
    const v = verifier({ tenantClaim: 'org' });
    assert.equal(v.verify(signToken(rsa.privateKey, { org: 'acme' })).tenantId, 'acme');
    assertRefused(v, signToken(rsa.privateKey), 'missing_tenant', /no org claim/);
  });

  test('a tenant outside allowedTenants is refused with tenant_not_allowed (403)', () => {
    const v = verifier({ allowedTenants: ['tenant-b'] });
    const err = assertRefused(v, signToken(rsa.privateKey), 'tenant_not_allowed', /tenant-a/);
    assert.equal(err.status, 403);
    assert.equal(v.verify(signToken(rsa.privateKey, { tenant_id: 'tenant-b' })).tenantId, 'tenant-b');
  });

  test('an RS256 token is refused when only ES256 is allowed', () => {
    const v = verifier({ algorithms: ['ES256'] });
    assertRefused(v, signToken(rsa.privateKey), 'invalid_token', /algorithm RS256 is not accepted/);
    assert.equal(v.verify(signToken(ec.privateKey)).tenantId, 'tenant-a');
  });

  test('error messages never contain the token', () => {
    const stranger = makeKeyPair('ec');
    const plain = verifier();
    const cases: Array<[TokenVerifier, string]> = [
      [plain, noExpToken(rsa.privateKey)],
      [plain, signToken(stranger.privateKey)],
      [plain, unsignedToken()],
      [plain, hmacTokenWithPublicKey(rsa.publicKeyPem)],
      [plain, expiredToken(rsa.privateKey)],
      [plain, notYetValidToken(rsa.privateKey)],
      [plain, noTenantToken(rsa.privateKey)],
      [verifier({ issuer: 'https://auth.example' }), wrongIssuerToken(rsa.privateKey)],
      [verifier({ audience: 'ingest' }), wrongAudienceToken(rsa.privateKey)],
      [verifier({ allowedTenants: ['tenant-b'] }), signToken(rsa.privateKey)],
    ];
    for (const [v, token] of cases) {
      assert.throws(
        () => v.verify(token),
        (err: Error) => {
          for (const part of token.split('.').filter((p) => p.length > 8))
            assert.ok(!err.message.includes(part), err.message);
          return err instanceof IngestError;
        },
      );
    }
  });

  test('interactionId is taken from the interaction_id claim', () => {
    assert.equal(
      verifier().verify(signToken(rsa.privateKey, { interaction_id: 'call-123' })).interactionId,
      'call-123',
    );
    assert.equal(verifier().verify(signToken(rsa.privateKey)).interactionId, undefined);
    assertRefused(verifier(), signToken(rsa.privateKey, { interaction_id: 7 }), 'invalid_token', /interaction_id/);
  });

  test('fromConfig builds a verifier from the configuration keys', () => {
    const v = TokenVerifier.fromConfig(
      {
        jwtAlgorithms: ['ES256'],
        jwtIssuer: '',
        jwtAudience: '',
        jwtTenantClaim: 'tenant_id',
        jwtClockToleranceS: 30,
        allowedTenants: [],
      } as unknown as Parameters<typeof TokenVerifier.fromConfig>[0],
      parsePublicKeys(ec.publicKeyPem),
    );
    assert.equal(v.verify(signToken(ec.privateKey)).tenantId, 'tenant-a');
  });

  test('a configuration without keys or with EdDSA is refused at construction', () => {
    assert.throws(() => verifier({ keys: [] }), { code: 'config_invalid' });
    assert.throws(() => verifier({ algorithms: ['EdDSA'] }), { code: 'config_invalid' });
  });

  test('every algorithm JWT_ALGORITHMS accepts verifies a token signed with it', () => {
    const loaded = loadConfig({ JWT_ALGORITHMS: ASYMMETRIC_ALGORITHMS.join(',') });
    assert.ok(loaded.ok, 'the configuration accepts every asymmetric algorithm');
    const curves: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
    for (const alg of ASYMMETRIC_ALGORITHMS) {
      const curve = curves[alg];
      const pair = curve ? generateKeyPairSync('ec', { namedCurve: curve }) : undefined;
      const keys = pair ? [pair.publicKey] : parsePublicKeys(rsa.publicKeyPem);
      const v = TokenVerifier.fromConfig({ ...loaded.config, jwtAlgorithms: [alg] }, keys);
      const token = signToken(pair?.privateKey ?? rsa.privateKey, {}, { algorithm: alg });
      assert.equal(v.verify(token).tenantId, 'tenant-a', alg);
    }
  });

  test('a key type that cannot verify the accepted algorithms is refused by the key parser and the verifier', () => {
    const ed = generateKeyPairSync('ed25519').publicKey;
    const pem = ed.export({ type: 'spki', format: 'pem' }).toString();
    assert.throws(() => parsePublicKeys(pem), /ed25519 key, not RSA or EC/);
    assert.throws(() => verifier({ keys: [ed] }), { code: 'config_invalid', message: /RSA or EC public keys/ });
    const loaded = loadConfig({ JWT_PUBLIC_KEY: pem });
    assert.ok(!loaded.ok && loaded.problems[0].variable === 'JWT_PUBLIC_KEY');
  });
});
