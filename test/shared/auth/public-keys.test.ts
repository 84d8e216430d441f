/**
 * The kid of a PEM key: its RFC 7638 JWK thumbprint, so that an identity
 * provider (or an operator) can compute it from the public key alone.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { jwkThumbprint, parsePublicKeys } from '../../../src/shared/auth/public-keys';

// RFC 7638 section 3.1: the example RSA key and its SHA-256 thumbprint.
const RFC_N =
  '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB' +
  'ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8' +
  'KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_' +
  'xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
const RFC_THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

test('a PEM key is named by its RFC 7638 JWK thumbprint (the RFC example key gives the RFC value)', () => {
  const key = createPublicKey({ key: { kty: 'RSA', n: RFC_N, e: 'AQAB' }, format: 'jwk' });
  assert.equal(jwkThumbprint(key), RFC_THUMBPRINT);
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  assert.equal(jwkThumbprint(parsePublicKeys(pem)[0]), RFC_THUMBPRINT, 'the same key read from PEM');
});

test('an EC key thumbprint hashes crv, kty, x and y in that order, and tells keys apart', () => {
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const b = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const jwk = a.export({ format: 'jwk' });
  const expected = sha256(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`);
  assert.equal(jwkThumbprint(a), expected);
  assert.notEqual(jwkThumbprint(a), jwkThumbprint(b));
});

test('a key with no JWK form (an RSA-PSS-restricted key) has no thumbprint', () => {
  const { publicKey } = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
  assert.equal(jwkThumbprint(publicKey), undefined);
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
