/**
 * Which published keys may verify tokens (screenKeySet, pure): asymmetric
 * signing keys with a kid and an accepted alg. Everything else is left out
 * with its reason, and the set still serves its usable keys.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { screenKeySet } from '../../../src/worker/admission/jwk-screening';
import { kidKeyPair } from '../../support/jwks-server';

const ACCEPTED = ['RS256', 'ES256'];
const rsa = kidKeyPair('rsa-1', 'rsa').jwk;
const ec = kidKeyPair('ec-1', 'ec').jwk;

const CASES: Array<[rule: string, jwk: Record<string, unknown>, reason: string]> = [
  ['an HMAC secret (kty oct) is ignored', { kty: 'oct', kid: 'h', k: 'c2VjcmV0' }, 'hmac_or_none'],
  ['an RSA key published for HS256 is ignored', { ...rsa, alg: 'HS256' }, 'hmac_or_none'],
  ['a key published for alg none is ignored', { ...ec, alg: 'none' }, 'hmac_or_none'],
  ['an encryption key (use enc) is ignored', { ...rsa, use: 'enc', alg: 'RSA-OAEP' }, 'not_signing'],
  ['a key without a kid is ignored (tokens pick keys by kid)', { ...ec, kid: undefined }, 'no_kid'],
  ['a key for an algorithm outside JWT_ALGORITHMS is ignored', { ...ec, alg: 'ES512' }, 'algorithm'],
  ['an Ed25519 key (OKP) is ignored', { kty: 'OKP', crv: 'Ed25519', x: 'abc', kid: 'ed' }, 'unsupported'],
  ['a private key published by mistake is ignored', { ...rsa, d: 'private-exponent' }, 'unsupported'],
  ['an entry that is not an object is ignored', 'not-a-key' as unknown as Record<string, unknown>, 'no_kid'],
];

for (const [rule, jwk, reason] of CASES) {
  test(rule, () => {
    const { usable, ignored } = screenKeySet({ keys: [jwk, rsa] }, ACCEPTED);
    assert.deepEqual(usable, [rsa], 'the usable key of the set still serves');
    assert.deepEqual(
      ignored.map((i) => i.reason),
      [reason],
    );
  });
}

test('RSA and EC signing keys with a kid, an accepted alg or none, and use sig or none are usable', () => {
  const noAlg = { ...ec, alg: undefined, use: undefined };
  const { usable, ignored } = screenKeySet({ keys: [rsa, ec, noAlg] }, ACCEPTED);
  assert.equal(usable.length, 3);
  assert.deepEqual(ignored, []);
});

test('an answer that is not a key set ({"keys": [...]}) is refused as a whole', () => {
  for (const body of [null, [], { keys: 'x' }, { key: [] }, 'text']) {
    assert.throws(() => screenKeySet(body, ACCEPTED), /not a JSON Web Key Set/);
  }
});
