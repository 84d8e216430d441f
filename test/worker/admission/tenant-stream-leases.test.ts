/**
 * A worker's side of MAX_STREAMS_PER_TENANT, with a fake store: the 429, the
 * release (once), the heartbeat's schedule (every third of the lease period,
 * one call per tenant), fail open (counted, logged once per outage), and
 * close() giving back everything still held.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { IngestError } from '../../../src/shared/errors';
import type { TenantLeaseStore } from '../../../src/worker/admission/tenant-lease-store';
import { REPLY_ERROR_LOG_INTERVAL_MS, TenantStreamLeases } from '../../../src/worker/admission/tenant-stream-leases';
import { WorkerStats } from '../../../src/worker/metrics/worker-stats';
import { captureLogs } from '../../support/log-capture';

const TTL_MS = 3000;
const UNAVAILABLE =
  'the tenant lease store does not answer: streams are admitted without a lease ' +
  '(MAX_STREAMS_PER_TENANT not enforced) until it does';

interface FakeStore extends TenantLeaseStore {
  readonly calls: string[];
  /** What acquire does next: grant, refuse, fail, or never answer. */
  next: 'grant' | 'refuse' | 'fail' | 'hang';
  missingAtRenew: number;
}

function fakeStore(): FakeStore {
  const store: FakeStore = {
    kind: 'redis',
    expires: true,
    calls: [],
    next: 'grant',
    missingAtRenew: 0,
    start: async () => undefined,
    acquire: async (tenant, id) => {
      store.calls.push(`acquire ${tenant} ${id}`);
      if (store.next === 'fail') throw new Error('connection refused');
      if (store.next === 'hang') return new Promise<boolean>(() => undefined);
      return store.next === 'grant';
    },
    renew: async (tenant, ids) => {
      store.calls.push(`renew ${tenant} ${ids.length}`);
      return store.missingAtRenew;
    },
    release: async (tenant, ids) => void store.calls.push(`release ${tenant} ${ids.length}`),
    close: async () => void store.calls.push('close'),
  };
  return store;
}

function setUp(callTimeoutMs = 1000) {
  const store = fakeStore();
  const stats = new WorkerStats();
  const logs = captureLogs();
  const leases = new TenantStreamLeases({ store, limit: 2, ttlMs: TTL_MS, callTimeoutMs, stats, logger: logs.logger });
  return { store, stats, logs, leases };
}

test('a refused lease is 429 tenant_stream_limit; a granted one is held until released, given back once', async () => {
  const { store, stats, leases } = setUp();
  const release = await leases.acquire('tenant-a');
  assert.equal(stats.tenantLeases.held, 1);
  store.next = 'refuse';
  const err = await leases.acquire('tenant-a').then(
    () => assert.fail('admitted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof IngestError);
  assert.equal(err.code, 'tenant_stream_limit');
  assert.equal(err.status, 429);
  assert.equal(stats.tenantLeases.held, 1, 'a refusal holds nothing');
  release();
  release();
  await leases.close();
  assert.equal(store.calls.filter((c) => c.startsWith('release')).length, 1);
  assert.equal(stats.tenantLeases.held, 0);
});

test('the heartbeat renews every third of TENANT_LEASE_TTL_MS, one call per tenant; stops at close()', async (t) => {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  const { store, stats, leases } = setUp();
  await leases.start();
  mock.timers.tick(TTL_MS / 3);
  assert.deepEqual(store.calls, [], 'nothing held: nothing renewed');
  await leases.acquire('tenant-a');
  await leases.acquire('tenant-a');
  await leases.acquire('tenant-b');
  store.calls.length = 0;
  mock.timers.tick(TTL_MS / 3 - 1);
  assert.deepEqual(store.calls, []);
  mock.timers.tick(1);
  assert.deepEqual(store.calls, ['renew tenant-a 2', 'renew tenant-b 1']);
  await new Promise((resolve) => setImmediate(resolve)); // the renewals settle
  store.missingAtRenew = 1;
  mock.timers.tick(TTL_MS / 3);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stats.tenantLeases.readded, 2, 'missing leases re-added are counted');
  await leases.close();
  assert.deepEqual(store.calls.slice(-3), ['release tenant-a 2', 'release tenant-b 1', 'close']);
  store.calls.length = 0;
  mock.timers.tick(TTL_MS);
  assert.deepEqual(store.calls, [], 'no renewal after close()');
});

test('a store that fails or does not answer in time: admitted (fail open), counted, logged once', async () => {
  const { store, stats, logs, leases } = setUp(50);
  store.next = 'fail';
  await leases.acquire('tenant-a');
  store.next = 'hang';
  await leases.acquire('tenant-a'); // past callTimeoutMs
  assert.equal(stats.tenantLeases.errors.get('acquire'), 2);
  assert.equal(stats.tenantLeases.held, 2, 'held here: the next renewal adds them to the store');
  assert.equal(logs.find(UNAVAILABLE).length, 1, 'one line per outage, not per stream');
  assert.equal(logs.find(UNAVAILABLE)[0].code, 'tenant_leases_unavailable');
  store.next = 'grant';
  await leases.acquire('tenant-b');
  assert.equal(logs.find('the tenant lease store answers again').length, 1);
  store.next = 'fail';
  await leases.acquire('tenant-b');
  assert.equal(logs.find(UNAVAILABLE).length, 2, 'a second outage is a second line');
  await leases.close();
});

/** An error as ioredis raises one Redis answered with. */
function replyError(message: string): Error {
  const err = new Error(message);
  err.name = 'ReplyError';
  return err;
}

test(
  "an outage's warning names the connection's last error (its cause), once per outage, code " +
    'tenant_leases_unavailable',
  async () => {
    const { store, logs, leases } = setUp();
    (store as { connectionError?: string }).connectionError = 'connect ECONNREFUSED 127.0.0.1:6390';
    store.next = 'fail';
    await leases.acquire('tenant-a');
    await leases.acquire('tenant-a');
    const warnings = logs.entries.filter((e) => e.code === 'tenant_leases_unavailable');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].cause, 'connect ECONNREFUSED 127.0.0.1:6390');
    assert.equal(warnings[0].level, 40);
    await leases.close();
  },
);

test(
  'a store that answers with an error (WRONGTYPE, a script error) is logged as an error, code ' +
    'tenant_leases_rejected, at most once a minute with the count left unlogged; streams still admitted',
  async (t) => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    t.after(() => mock.timers.reset());
    const { store, stats, logs, leases } = setUp();
    store.acquire = async () => {
      throw replyError('WRONGTYPE Operation against a key holding the wrong kind of value');
    };
    for (let i = 0; i < 3; i++) await leases.acquire('tenant-a');
    mock.timers.tick(REPLY_ERROR_LOG_INTERVAL_MS);
    await leases.acquire('tenant-a');
    const errors = logs.entries.filter((e) => e.code === 'tenant_leases_rejected');
    assert.deepEqual(
      errors.map((e) => [e.level, e.unlogged]),
      [
        [50, 0],
        [50, 2],
      ],
    );
    assert.match(String(errors[0].err), /^WRONGTYPE/);
    assert.equal(stats.tenantLeases.held, 4, 'fail open: every stream admitted');
    assert.equal(stats.tenantLeases.errors.get('acquire'), 4);
    assert.equal(
      logs.entries.filter((e) => e.code === 'tenant_leases_unavailable').length,
      0,
      'an answer with an error is not an outage',
    );
    await leases.close();
  },
);

test('a store whose close fails is logged, not swallowed', async () => {
  const { store, logs, leases } = setUp();
  store.close = async () => {
    throw new Error('socket hang up');
  };
  await leases.close();
  const line = logs.entries.find((e) => e.msg === 'closing the tenant lease store failed');
  assert.equal(line?.err, 'socket hang up');
});
