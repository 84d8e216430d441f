/**
 * The proofs telephony providers give (protocol.md 4.1, 4.2), piece by piece:
 * Basic credentials compared through digests, address ranges of both families,
 * and Twilio's signature, computed here the way Twilio documents it.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import {
  AddressAllowList,
  BasicCredentialStore,
  parseBasicAuthorization,
  TwilioSignatureVerifier,
  twilioSignature,
} from '../../../src/worker/admission/telephony-auth';

const basic = (userPass: string): string => `Basic ${Buffer.from(userPass).toString('base64')}`;

test('4.1 Basic authorization is parsed whatever the scheme case; other schemes and no header are not Basic', () => {
  assert.deepEqual(parseBasicAuthorization(basic('exo:pa:ss')), { user: 'exo', password: 'pa:ss' });
  assert.deepEqual(parseBasicAuthorization(`basic ${Buffer.from('u:p').toString('base64')}`), {
    user: 'u',
    password: 'p',
  });
  assert.deepEqual(
    parseBasicAuthorization('Basic bm9jb2xvbg=='),
    { user: '', password: '' },
    'no colon: credentials that match nothing',
  );
  assert.deepEqual(parseBasicAuthorization('Basic'), { user: '', password: '' });
  assert.equal(parseBasicAuthorization('Bearer abc'), undefined);
  assert.equal(parseBasicAuthorization(undefined), undefined);
});

test(
  '4.1 Basic credentials map to their tenant; a wrong password, a ' + 'wrong user or empty credentials match nothing',
  () => {
    const store = new BasicCredentialStore(['exo:s3cret=tenant-a', 'other:p=ss:w=rd=tenant-b']);
    assert.equal(store.size, 2);
    assert.equal(store.tenantFor({ user: 'exo', password: 's3cret' }), 'tenant-a');
    assert.equal(store.tenantFor({ user: 'other', password: 'p=ss:w=rd' }), 'tenant-b', 'passwords may hold : and =');
    assert.equal(store.tenantFor({ user: 'exo', password: 's3cre' }), undefined);
    assert.equal(store.tenantFor({ user: 'exo', password: 's3cret ' }), undefined);
    assert.equal(store.tenantFor({ user: 'other', password: 's3cret' }), undefined);
    assert.equal(store.tenantFor({ user: '', password: '' }), undefined);
  },
);

test('4.1 the address allow-list takes IPv4 and IPv6 ranges, and IPv4-mapped IPv6 addresses', () => {
  const list = new AddressAllowList(['203.0.113.0/24', '2001:db8::/32', '198.51.100.7']);
  assert.equal(list.allows('203.0.113.200'), true);
  assert.equal(list.allows('::ffff:203.0.113.5'), true);
  assert.equal(list.allows('203.0.114.1'), false);
  assert.equal(list.allows('2001:db8:1::5'), true);
  assert.equal(list.allows('2001:db9::1'), false);
  assert.equal(list.allows('198.51.100.7'), true);
  assert.equal(list.allows('198.51.100.8'), false);
  assert.equal(list.allows('not an address'), false);
  assert.equal(new AddressAllowList([]).allows('127.0.0.1'), false);
});

function upgradeWith(signature: string | undefined): IncomingMessage {
  return { headers: signature === undefined ? {} : { 'x-twilio-signature': signature } } as unknown as IncomingMessage;
}

test(
  '4.2 X-Twilio-Signature is base64(HMAC-SHA1(auth token, the exact ' +
    'wss:// URL)); a wrong, missing or https:// signature fails',
  () => {
    const token = '12345678901234567890123456789012';
    const url = 'wss://ingest.example.com/v1/twilio';
    // As Twilio documents request validation: the full URL, no POST parameters for a WebSocket, HMAC-SHA1, base64.
    const documented = createHmac('sha1', token).update(url).digest('base64');
    assert.equal(twilioSignature(token, url), documented);
    const verifier = new TwilioSignatureVerifier(token, url);
    assert.equal(verifier.check(upgradeWith(documented)), 'valid');
    assert.equal(
      verifier.check(upgradeWith(createHmac('sha1', 'another-token').update(url).digest('base64'))),
      'invalid',
    );
    assert.equal(
      verifier.check(
        upgradeWith(createHmac('sha1', token).update('https://ingest.example.com/v1/twilio').digest('base64')),
      ),
      'invalid',
    );
    assert.equal(verifier.check(upgradeWith(`${documented.slice(0, -2)}x=`)), 'invalid');
    assert.equal(verifier.check(upgradeWith('')), 'missing');
    assert.equal(verifier.check(upgradeWith(undefined)), 'missing');
  },
);
