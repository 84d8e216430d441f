/** The per-worker connection limits (429): what the per-address count counts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngestError } from '../../../src/shared/errors';
import { ConnectionLimiter, sourceKey } from '../../../src/worker/admission/connection-limiter';

const ONE_PER_ADDRESS = { maxConnectionsPerWorker: 0, maxConnectionsPerTenant: 0, maxConnectionsPerIp: 1 };

function refused(take: () => unknown): IngestError {
  try {
    take();
  } catch (err) {
    assert.ok(err instanceof IngestError);
    return err;
  }
  return assert.fail('the connection was admitted');
}

test('the per-address limit counts IPv6 addresses by /64: another address of the same /64 is refused', () => {
  const limiter = new ConnectionLimiter(ONE_PER_ADDRESS);
  const release = limiter.acquire('t', '2001:db8:0:1::1');
  const err = refused(() => limiter.acquire('t', '2001:db8:0:1:ffff:ffff:ffff:ffff'));
  assert.equal(err.code, 'connection_limit');
  assert.match(err.message, /source network 2001:db8:0:1::\/64 has reached its limit of 1/);
  limiter.acquire('t', '2001:db8:0:2::1'); // the next /64 is another source
  release();
  limiter.acquire('t', '2001:db8:0:1::2');
});

test('IPv4 addresses are still counted one by one', () => {
  const limiter = new ConnectionLimiter(ONE_PER_ADDRESS);
  limiter.acquire('t', '198.51.100.1');
  limiter.acquire('t', '198.51.100.2');
  assert.match(refused(() => limiter.acquire('t', '198.51.100.1')).message, /source address has reached/);
});

test('the /64 key reads every IPv6 spelling: compressed, full, leading zeros, case, zone, dotted tail', () => {
  const same = ['2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0002', '2001:DB8:0:0::ffff', 'fe80::1%eth0'];
  assert.deepEqual(same.map(sourceKey), [
    '2001:db8:0:0::/64',
    '2001:db8:0:0::/64',
    '2001:db8:0:0::/64',
    'fe80:0:0:0::/64',
  ]);
  assert.equal(sourceKey('64:ff9b::192.0.2.33'), '64:ff9b:0:0::/64');
  assert.equal(sourceKey('::1'), '0:0:0:0::/64');
  assert.equal(sourceKey('2001:db8:a:b:c:d:e:f'), '2001:db8:a:b::/64');
  assert.equal(sourceKey('203.0.113.9'), '203.0.113.9');
});
