import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { ASYMMETRIC_ALGORITHMS } from '../../../src/shared/auth/jwt-algorithms';
import { loadConfig } from '../../../src/shared/config/config';
import { DEFAULT_JWT_ALGORITHMS } from '../../../src/shared/config/config-schema';
import { IngestError, type ErrorCode } from '../../../src/shared/errors';
import { jwkThumbprint, parsePublicKeys } from '../../../src/shared/auth/public-keys';
import type { KidLookup } from '../../../src/worker/admission/jwks-key-source';
import { TokenVerifier, type TokenVerifierOptions } from '../../../src/worker/admission/token-verifier';
import jwt from 'jsonwebtoken';
import {
  defaultClaims,
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

async function assertRefused(v: TokenVerifier, token: string, code: ErrorCode, message?: RegExp): Promise<IngestError> {
  let caught: unknown;
  try {
    await v.verify(token);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof IngestError, `expected IngestError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('TokenVerifier', () => {
  test('a valid RS256 token gives its tenant, subject and expiry', async () => {
    const exp = nowS() + 600;
    const result = await verifier().verify(signToken(rsa.privateKey, { sub: 'svc-1', exp }));
    assert.deepEqual(result, { tenantId: 'tenant-a', subject: 'svc-1', expiresAt: exp * 1000 });
  });

  test('a valid ES256 token is accepted', async () => {
    assert.equal((await verifier().verify(signToken(ec.privateKey))).tenantId, 'tenant-a');
  });

  test('key rotation: a token signed by the second configured key is accepted', async () => {
    const v = verifier({ keys: parsePublicKeys(rsa.publicKeyPem + rsa2.publicKeyPem) });
    assert.equal((await v.verify(signToken(rsa2.privateKey, { tenant_id: 't2' }))).tenantId, 't2');
  });

  test('a token without exp is refused (exp is required)', async () => {
    await assertRefused(verifier(), noExpToken(rsa.privateKey), 'invalid_token', /no exp/);
  });

  test('a malformed token is refused', async () => {
    for (const token of ['abc', 'a.b.c', '', 'a.b', 'x.y.z.w'])
      await assertRefused(verifier(), token, 'invalid_token', /malformed|empty/);
  });

  test('a token signed by an unknown key is refused', async () => {
    const stranger = makeKeyPair('rsa');
    await assertRefused(verifier(), signToken(stranger.privateKey), 'invalid_token', /signature/);
  });

  test('alg none is refused', async () => {
    await assertRefused(verifier(), unsignedToken(), 'invalid_token', /algorithm none is not accepted/);
    await assertRefused(verifier(), unsignedToken({}, 'NONE'), 'invalid_token', /not accepted/);
  });

  test('HS256 signed with the public key as HMAC secret is refused', async () => {
    await assertRefused(
      verifier(),
      hmacTokenWithPublicKey(rsa.publicKeyPem),
      'invalid_token',
      /algorithm HS256 is not accepted/,
    );
  });

  test('HMAC is refused even when the configuration lists it', async () => {
    const v = verifier({ algorithms: ['HS256', 'RS256'] });
    await assertRefused(v, hmacTokenWithPublicKey(rsa.publicKeyPem), 'invalid_token', /HS256 is not accepted/);
    assert.equal((await v.verify(signToken(rsa.privateKey))).tenantId, 'tenant-a');
    assert.throws(() => verifier({ algorithms: ['HS256', 'none'] }), { code: 'config_invalid' });
  });

  test('an expired token is refused and the message says when it expired', async () => {
    const exp = nowS() - 3600;
    const err = await assertRefused(
      verifier(),
      expiredToken(rsa.privateKey, 3600, { exp }),
      'invalid_token',
      /token expired at/,
    );
    assert.ok(err.message.includes(new Date(exp * 1000).toISOString()), err.message);
  });

  test('a token expired within the clock tolerance is accepted', async () => {
    assert.equal(
      (await verifier({ clockToleranceS: 30 }).verify(expiredToken(rsa.privateKey, 10))).tenantId,
      'tenant-a',
    );
    await assertRefused(verifier({ clockToleranceS: 0 }), expiredToken(rsa.privateKey, 10), 'invalid_token', /expired/);
  });

  test('a token whose nbf is in the future is refused', async () => {
    await assertRefused(verifier(), notYetValidToken(rsa.privateKey, 3600), 'invalid_token', /not valid before/);
    assert.equal((await verifier().verify(notYetValidToken(rsa.privateKey, 10))).tenantId, 'tenant-a');
  });

  test('a token issued in the future beyond the tolerance is refused', async () => {
    await assertRefused(
      verifier(),
      signToken(rsa.privateKey, { iat: nowS() + 3600 }),
      'invalid_token',
      /issued in the future/,
    );
  });

  test('a token with the wrong issuer is refused', async () => {
    await assertRefused(
      verifier({ issuer: 'https://auth.example' }),
      wrongIssuerToken(rsa.privateKey),
      'invalid_token',
      /issuer does not match/,
    );
    await assertRefused(
      verifier({ issuer: 'https://auth.example' }),
      signToken(rsa.privateKey),
      'invalid_token',
      /issuer/,
    );
  });

  test('a token with the wrong audience is refused', async () => {
    await assertRefused(
      verifier({ audience: 'ingest' }),
      wrongAudienceToken(rsa.privateKey),
      'invalid_token',
      /audience does not match/,
    );
    await assertRefused(verifier({ audience: 'ingest' }), signToken(rsa.privateKey), 'invalid_token', /audience/);
  });

  test('a token with the configured issuer and audience is accepted', async () => {
    const v = verifier({ issuer: 'https://auth.example', audience: 'ingest' });
    assert.equal(
      (await v.verify(signToken(rsa.privateKey, { iss: 'https://auth.example', aud: 'ingest' }))).tenantId,
      'tenant-a',
    );
    assert.equal(
      (await v.verify(signToken(rsa.privateKey, { iss: 'https://auth.example', aud: ['other', 'ingest'] }))).tenantId,
      'tenant-a',
    );
  });

  test('a token without the tenant claim is refused with missing_tenant', async () => {
    const err = await assertRefused(verifier(), noTenantToken(rsa.privateKey), 'missing_tenant', /tenant_id/);
    assert.equal(err.status, 401);
    await assertRefused(verifier(), signToken(rsa.privateKey, { tenant_id: '' }), 'missing_tenant');
    await assertRefused(verifier(), signToken(rsa.privateKey, { tenant_id: 42 }), 'missing_tenant');
  });

  test('the tenant claim name is configurable', async () => {
    const v = verifier({ tenantClaim: 'org' });
    assert.equal((await v.verify(signToken(rsa.privateKey, { org: 'acme' }))).tenantId, 'acme');
    await assertRefused(v, signToken(rsa.privateKey), 'missing_tenant', /no org claim/);
  });

  test('a tenant outside allowedTenants is refused with tenant_not_allowed (403)', async () => {
    const v = verifier({ allowedTenants: ['tenant-b'] });
    const err = await assertRefused(v, signToken(rsa.privateKey), 'tenant_not_allowed', /tenant-a/);
    assert.equal(err.status, 403);
    assert.equal((await v.verify(signToken(rsa.privateKey, { tenant_id: 'tenant-b' }))).tenantId, 'tenant-b');
  });

  test('an RS256 token is refused when only ES256 is allowed', async () => {
    const v = verifier({ algorithms: ['ES256'] });
    await assertRefused(v, signToken(rsa.privateKey), 'invalid_token', /algorithm RS256 is not accepted/);
    assert.equal((await v.verify(signToken(ec.privateKey))).tenantId, 'tenant-a');
  });

  test('error messages never contain the token', async () => {
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
      await assert.rejects(v.verify(token), (err: Error) => {
        for (const part of token.split('.').filter((p) => p.length > 8))
          assert.ok(!err.message.includes(part), err.message);
        return err instanceof IngestError;
      });
    }
  });

  test('interactionId is taken from the interaction_id claim', async () => {
    assert.equal(
      (await verifier().verify(signToken(rsa.privateKey, { interaction_id: 'call-123' }))).interactionId,
      'call-123',
    );
    assert.equal((await verifier().verify(signToken(rsa.privateKey))).interactionId, undefined);
    await assertRefused(
      verifier(),
      signToken(rsa.privateKey, { interaction_id: 7 }),
      'invalid_token',
      /interaction_id/,
    );
  });

  test('fromConfig builds a verifier from the configuration keys', async () => {
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
    assert.equal((await v.verify(signToken(ec.privateKey))).tenantId, 'tenant-a');
  });

  test('a configuration without keys or with EdDSA is refused at construction', async () => {
    assert.throws(() => verifier({ keys: [] }), { code: 'config_invalid' });
    assert.throws(() => verifier({ algorithms: ['EdDSA'] }), { code: 'config_invalid' });
  });

  test('every algorithm JWT_ALGORITHMS accepts verifies a token signed with it', async () => {
    const loaded = loadConfig({ JWT_ALGORITHMS: ASYMMETRIC_ALGORITHMS.join(',') });
    assert.ok(loaded.ok, 'the configuration accepts every asymmetric algorithm');
    const curves: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
    for (const alg of ASYMMETRIC_ALGORITHMS) {
      const curve = curves[alg];
      const pair = curve ? generateKeyPairSync('ec', { namedCurve: curve }) : undefined;
      const keys = pair ? [pair.publicKey] : parsePublicKeys(rsa.publicKeyPem);
      const v = TokenVerifier.fromConfig({ ...loaded.config, jwtAlgorithms: [alg] }, keys);
      const token = signToken(pair?.privateKey ?? rsa.privateKey, {}, { algorithm: alg });
      assert.equal((await v.verify(token)).tenantId, 'tenant-a', alg);
    }
  });

  test(
    'a key type that cannot verify the accepted algorithms is ' + 'refused by the key parser and the verifier',
    async () => {
      const ed = generateKeyPairSync('ed25519').publicKey;
      const pem = ed.export({ type: 'spki', format: 'pem' }).toString();
      assert.throws(() => parsePublicKeys(pem), /ed25519 key, not RSA or EC/);
      assert.throws(() => verifier({ keys: [ed] }), { code: 'config_invalid', message: /RSA or EC public keys/ });
      const loaded = loadConfig({ JWT_PUBLIC_KEY: pem });
      assert.ok(!loaded.ok && loaded.problems[0].variable === 'JWT_PUBLIC_KEY');
    },
  );
});

describe('TokenVerifier: which key checks a token (kid)', () => {
  const [rsaKey, rsa2Key] = parsePublicKeys(rsa.publicKeyPem + rsa2.publicKeyPem);
  const ecKey = parsePublicKeys(ec.publicKeyPem)[0];
  const pemOnly = (): TokenVerifier => verifier({ keys: [rsaKey, rsa2Key] });
  /** A key set holding `held` by kid, that records every lookup. */
  function keySet(held: Record<string, KidLookup>): { find: (kid: string) => Promise<KidLookup>; asked: string[] } {
    const asked: string[] = [];
    return {
      asked,
      find: async (kid) => {
        asked.push(kid);
        return held[kid] ?? { missing: 'not_in_set', reason: `key "${kid}" is not in the key set (fetched just now)` };
      },
    };
  }

  test('a token whose kid is a PEM key thumbprint is checked against that key only, not every key', async () => {
    const kid1 = jwkThumbprint(rsaKey) as string;
    const kid2 = jwkThumbprint(rsa2Key) as string;
    assert.equal((await pemOnly().verify(signToken(rsa.privateKey, {}, { kid: kid1 }))).tenantId, 'tenant-a');
    // Signed by the first key but naming the second: trying every key would accept it.
    await assertRefused(
      pemOnly(),
      signToken(rsa.privateKey, {}, { kid: kid2 }),
      'invalid_token',
      new RegExp(`signature does not match PEM key "${kid2}"`),
    );
  });

  test('a token without kid is checked against each PEM key in turn (as before kids)', async () => {
    assert.equal((await pemOnly().verify(signToken(rsa2.privateKey))).tenantId, 'tenant-a');
    await assertRefused(pemOnly(), signToken(ec.privateKey), 'invalid_token', /does not match any configured key/);
  });

  test('without a key set, a kid of the issuer own naming falls back to each PEM key in turn', async () => {
    assert.equal(
      (await pemOnly().verify(signToken(rsa2.privateKey, {}, { kid: 'issuer-key-7' }))).tenantId,
      'tenant-a',
    );
  });

  test('with a key set, a kid that names no PEM key is checked against that key of the set only', async () => {
    const set = keySet({ 'set-key': { found: [ecKey] } });
    const v = verifier({ keys: [rsaKey], keySet: set });
    assert.equal((await v.verify(signToken(ec.privateKey, {}, { kid: 'set-key' }))).tenantId, 'tenant-a');
    // A PEM key's signature under the set's kid: no falling back to the PEM keys.
    await assertRefused(
      v,
      signToken(rsa.privateKey, {}, { kid: 'set-key' }),
      'invalid_token',
      /signature does not match key "set-key" of the key set/,
    );
    assert.deepEqual(set.asked, ['set-key', 'set-key']);
  });

  test('a kid that is a PEM key thumbprint never asks the key set', async () => {
    const set = keySet({});
    const v = verifier({ keys: [rsaKey], keySet: set });
    const kid = jwkThumbprint(rsaKey) as string;
    assert.equal((await v.verify(signToken(rsa.privateKey, {}, { kid }))).tenantId, 'tenant-a');
    assert.deepEqual(set.asked, []);
  });

  test('a kid the key set lacks is refused 401 invalid_token with the key set reason', async () => {
    const v = verifier({ keys: [], keySet: keySet({}) });
    const err = await assertRefused(
      v,
      signToken(ec.privateKey, {}, { kid: 'gone' }),
      'invalid_token',
      /key "gone" is not in the key set/,
    );
    assert.equal(err.status, 401);
  });

  test('a kid the worker lacks while the key set cannot be fetched is refused 503 jwks_unavailable', async () => {
    const down: KidLookup = {
      missing: 'unavailable',
      reason: 'key "new" is not held and the key set could not be fetched',
    };
    const v = verifier({ keys: [], keySet: keySet({ new: down }) });
    const err = await assertRefused(v, signToken(ec.privateKey, {}, { kid: 'new' }), 'jwks_unavailable', /not held/);
    assert.equal(err.status, 503);
  });

  test('a jwks_unavailable refusal does not send why the fetch failed (an internal address)', async () => {
    const down: KidLookup = {
      missing: 'unavailable',
      reason: 'key "new" is not held and the key set could not be fetched (connect ECONNREFUSED 10.1.2.3:8443)',
    };
    const v = verifier({ keys: [], keySet: keySet({ new: down }) });
    const err = await assertRefused(v, signToken(ec.privateKey, {}, { kid: 'new' }), 'jwks_unavailable');
    assert.doesNotMatch(err.message, /10\.1\.2\.3|ECONNREFUSED/);
    assert.match(err.detail ?? '', /ECONNREFUSED 10\.1\.2\.3:8443/);
  });

  test('with keys from a key set only, a token without kid is refused: set keys are chosen by kid', async () => {
    const v = verifier({ keys: [], keySet: keySet({}) });
    await assertRefused(v, signToken(ec.privateKey), 'invalid_token', /no kid header/);
  });

  test('a kid that is not a non-empty string is refused', async () => {
    for (const kid of ['', 42]) {
      const token = jwt.sign(defaultClaims(), rsa.privateKey, {
        algorithm: 'RS256',
        header: { alg: 'RS256', kid: kid as string },
      });
      await assertRefused(pemOnly(), token, 'invalid_token', /kid is not a non-empty string/);
    }
  });
});
