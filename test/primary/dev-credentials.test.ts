import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_JWT_ALGORITHMS } from '../../src/shared/config/config-schema';
import { parsePublicKeys } from '../../src/shared/auth/public-keys';
import { TokenVerifier } from '../../src/worker/admission/token-verifier';
import { createDevCredentials, devClientCommand, needsDevCredentials } from '../../src/primary/dev-credentials';

function verifierFor(
  publicKeyPem: string,
  overrides: { tenantClaim?: string; issuer?: string; audience?: string } = {},
): TokenVerifier {
  return new TokenVerifier({
    keys: parsePublicKeys(publicKeyPem),
    algorithms: DEFAULT_JWT_ALGORITHMS,
    tenantClaim: overrides.tenantClaim ?? 'tenant_id',
    issuer: overrides.issuer,
    audience: overrides.audience,
    clockToleranceS: 30,
    allowedTenants: [],
  });
}

describe('dev credentials', () => {
  test('the dev token verifies with the returned public key and names the dev tenant', async () => {
    const before = Date.now();
    const creds = createDevCredentials({});
    const verified = await verifierFor(creds.publicKeyPem).verify(creds.token);
    assert.equal(verified.tenantId, 'dev-tenant');
    assert.equal(verified.subject, 'dev');
    assert.equal(verified.expiresAt, creds.expiresAt.getTime());
    assert.ok(creds.expiresAt.getTime() >= before + 3599_000 && creds.expiresAt.getTime() <= Date.now() + 3600_000);
    assert.ok(!creds.publicKeyPem.includes('PRIVATE'));
  });

  test('each call makes a new key: an older dev token does not verify with a newer key', async () => {
    const first = createDevCredentials({});
    const second = createDevCredentials({ tenantId: 'other', ttlSeconds: 60 });
    await assert.rejects(verifierFor(second.publicKeyPem).verify(first.token), { code: 'invalid_token' });
    assert.equal((await verifierFor(second.publicKeyPem).verify(second.token)).tenantId, 'other');
  });

  test('the dev token follows a configured tenant claim, issuer and audience', async () => {
    const creds = createDevCredentials({ tenantClaim: 'org', issuer: 'https://auth.example', audience: 'ingest' });
    const v = verifierFor(creds.publicKeyPem, {
      tenantClaim: 'org',
      issuer: 'https://auth.example',
      audience: 'ingest',
    });
    assert.equal((await v.verify(creds.token)).tenantId, 'dev-tenant');
  });

  test('dev credentials are needed only outside production without a configured key (PEM or JWKS)', async () => {
    const none = { jwtPublicKey: '', jwtPublicKeyFile: '', jwtJwksUrl: '' };
    assert.equal(needsDevCredentials({ ...none, nodeEnv: 'development' }), true);
    assert.equal(needsDevCredentials({ ...none, nodeEnv: 'production' }), false);
    assert.equal(needsDevCredentials({ ...none, nodeEnv: 'development', jwtPublicKey: 'pem' }), false);
    assert.equal(needsDevCredentials({ ...none, nodeEnv: 'test', jwtPublicKeyFile: '/keys.pem' }), false);
    assert.equal(
      needsDevCredentials({ ...none, nodeEnv: 'development', jwtJwksUrl: 'https://id.example/jwks' }),
      false,
    );
  });

  test('the client command names the port and ws:// or wss://', async () => {
    assert.equal(
      devClientCommand({ port: 5000, token: 'tok', tls: false }),
      'npm run client -- --url ws://localhost:5000/v1/ingest --token tok',
    );
    assert.equal(
      devClientCommand({ port: 8443, token: 'tok', tls: true }),
      'npm run client -- --url wss://localhost:8443/v1/ingest --token tok',
    );
  });
});
