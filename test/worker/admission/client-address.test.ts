/**
 * The client address behind TRUSTED_PROXIES: every form proxies write in
 * X-Forwarded-For is read, and an entry that is not an address stops the walk
 * at the last trusted hop, so that what a client wrote itself on the left is never believed.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { ClientAddressResolver, parseForwardedHop } from '../../../src/worker/admission/client-address';

function request(peer: string, forwardedFor?: string | string[]): IncomingMessage {
  const headers = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
  return { socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage;
}

const behindProxy = new ClientAddressResolver(['10.0.0.0/8', 'fd00::/8']);

test('X-Forwarded-For entries are read in every address form: bare v4/v6, ip:port, [v6], [v6]:port', () => {
  assert.deepEqual(
    [
      '198.51.100.7',
      '198.51.100.7:5060',
      '2001:db8::7',
      '[2001:db8::7]',
      '[2001:db8::7]:443',
      '::ffff:198.51.100.7',
    ].map(parseForwardedHop),
    ['198.51.100.7', '198.51.100.7', '2001:db8::7', '2001:db8::7', '2001:db8::7', '198.51.100.7'],
  );
  assert.equal(parseForwardedHop('  198.51.100.7:80 '), '198.51.100.7', 'spaces around an entry are allowed');
});

test('X-Forwarded-For entries that are not an address are unparseable: unknown, obfuscated, bad port, garbage', () => {
  for (const entry of ['unknown', '_hidden', '', 'example.com', '198.51.100.7:99999', '1.2.3.256', '[::1', '[x]:80']) {
    assert.equal(parseForwardedHop(entry), undefined, entry);
  }
});

test('X-Forwarded-For: an ip:port hop appended by the proxy is the client, not the spoofed entry left of it', () => {
  assert.equal(behindProxy.resolve(request('10.0.0.1', '203.0.113.9, 198.51.100.7:5060')), '198.51.100.7');
  assert.equal(behindProxy.resolve(request('10.0.0.1', '203.0.113.9, [2001:db8::7]:443')), '2001:db8::7');
  assert.equal(behindProxy.resolve(request('10.0.0.1', '203.0.113.9, [2001:db8::7]')), '2001:db8::7');
  assert.equal(
    behindProxy.resolve(request('10.0.0.1', '203.0.113.9, 198.51.100.7:5060, 10.0.0.2:80')),
    '198.51.100.7',
    'trusted hops in ip:port form are walked past',
  );
});

test('X-Forwarded-For: an unparseable entry stops the walk, and the last trusted hop is the client', () => {
  assert.equal(behindProxy.resolve(request('10.0.0.1', '203.0.113.9, unknown')), '10.0.0.1');
  assert.equal(behindProxy.resolve(request('10.0.0.1', '203.0.113.9, _hidden, 10.0.0.2')), '10.0.0.2');
  assert.equal(behindProxy.resolve(request('10.0.0.1', '203.0.113.9,,10.0.0.2')), '10.0.0.2', 'an empty entry');
});

test('X-Forwarded-For: bare addresses, repeated headers, and untrusted peers behave as before', () => {
  assert.equal(behindProxy.resolve(request('10.0.0.1', '203.0.113.9, 198.51.100.7')), '198.51.100.7');
  assert.equal(behindProxy.resolve(request('10.0.0.1', ['203.0.113.9', '198.51.100.7'])), '198.51.100.7');
  assert.equal(behindProxy.resolve(request('10.0.0.1', '10.0.0.3, 10.0.0.2')), '10.0.0.3', 'all hops trusted');
  assert.equal(behindProxy.resolve(request('10.0.0.1')), '10.0.0.1', 'no header: the proxy itself');
  assert.equal(behindProxy.resolve(request('::ffff:198.51.100.1', '203.0.113.9')), '198.51.100.1', 'untrusted peer');
  assert.equal(new ClientAddressResolver([]).resolve(request('10.0.0.1', '203.0.113.9')), '10.0.0.1');
});
