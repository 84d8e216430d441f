/** MAX_STREAMS_PER_TENANT counted by the primary (no Redis for the limits): slots per tenant over every worker. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PrimaryToWorker, WorkerToPrimary } from '../../../src/shared/process/ipc';
import { TenantSlots } from '../../../src/primary/pool/tenant-slots';
import { loadConfig } from '../../../src/shared/config/config';
import { PRIMARY_LEASE_TIMEOUT_MS, PrimaryLeaseStore } from '../../../src/worker/admission/primary-lease-store';
import { createTenantLeaseStore } from '../../../src/worker/admission/tenant-lease-store';

test("the limit holds across workers: tenant-a's slots on two workers count together, tenant-b apart", () => {
  const slots = new TenantSlots();
  assert.equal(slots.acquire(1, 'tenant-a', 'w1-1', 2), true);
  assert.equal(slots.acquire(2, 'tenant-a', 'w2-1', 2), true);
  assert.equal(slots.acquire(2, 'tenant-a', 'w2-2', 2), false);
  assert.equal(slots.acquire(1, 'tenant-a', 'w1-1', 2), true, 'a lease held already is granted again');
  assert.equal(slots.acquire(2, 'tenant-b', 'w2-3', 2), true);
  assert.equal(slots.held('tenant-a'), 2);
});

test("a release frees the slot; another worker's lease id is left alone", () => {
  const slots = new TenantSlots();
  slots.acquire(1, 'tenant-a', 'x', 1);
  slots.release(2, 'tenant-a', ['x']);
  assert.equal(slots.held('tenant-a'), 1);
  slots.release(1, 'tenant-a', ['x']);
  assert.equal(slots.held('tenant-a'), 0);
  assert.equal(slots.acquire(2, 'tenant-a', 'y', 1), true);
});

test("a worker's exit frees every slot it held, and only those", () => {
  const slots = new TenantSlots();
  slots.acquire(1, 'tenant-a', 'a', 3);
  slots.acquire(1, 'tenant-b', 'b', 3);
  slots.acquire(2, 'tenant-a', 'c', 3);
  assert.equal(slots.releaseWorker(1), 2);
  assert.equal(slots.held('tenant-a'), 1);
  assert.equal(slots.held('tenant-b'), 0);
  assert.equal(slots.releaseWorker(1), 0);
});

test('serve answers an acquire with its request id, and a release with nothing', () => {
  const slots = new TenantSlots();
  const sent: PrimaryToWorker[] = [];
  const worker = { id: 7, send: (msg: PrimaryToWorker) => sent.push(msg) > 0 };
  const acquire = { ingest: 1, type: 'lease_acquire', tenant: 't', limit: 1 } as const;
  slots.serve(worker, { ...acquire, requestId: 1, leaseId: 'a' });
  slots.serve(worker, { ...acquire, requestId: 2, leaseId: 'b' });
  slots.serve(worker, { ingest: 1, type: 'lease_release', tenant: 't', leaseIds: ['a'] });
  assert.deepEqual(
    sent.map((m) => (m.type === 'lease_reply' ? [m.requestId, m.granted] : m.type)),
    [
      [1, true],
      [2, false],
    ],
  );
  assert.equal(slots.held('t'), 0);
});

test(
  'an acquire the primary answers too late is admitted (fail open) and counted anyway: the worker sends ' +
    'lease_held, so a late refusal leaves no running stream uncounted; a release frees it',
  async () => {
    const slots = new TenantSlots();
    // A busy primary: the worker's messages wait in its inbox until the test delivers them.
    const inbox: WorkerToPrimary[] = [];
    const store = new PrimaryLeaseStore((msg) => inbox.push(msg) > 0, 1, 30);
    const worker = {
      id: 3,
      send: (msg: PrimaryToWorker): boolean => {
        if (msg.type === 'lease_reply') store.onReply(msg);
        return true;
      },
    };
    const deliver = (): void => {
      for (const msg of inbox.splice(0))
        if (msg.type === 'lease_acquire' || msg.type === 'lease_release' || msg.type === 'lease_held')
          slots.serve(worker, msg);
    };
    const first = store.acquire('t', 'first');
    deliver();
    assert.equal(await first, true);
    await assert.rejects(store.acquire('t', 'late'), /did not answer within 30 ms/);
    assert.deepEqual(
      inbox.map((m) => m.type),
      ['lease_acquire', 'lease_held'],
    );
    deliver(); // refused (at the limit), then counted by lease_held: the stream runs
    assert.equal(slots.held('t'), 2);
    await store.release('t', ['late']);
    deliver();
    assert.equal(slots.held('t'), 1);
  },
);

test('the primary store waits PRIMARY_LEASE_TIMEOUT_MS (1 s) for the primary, whatever TENANT_LEASE_TTL_MS', () => {
  const loaded = loadConfig({ MAX_STREAMS_PER_TENANT: '1', TENANT_LEASE_TTL_MS: '1000' });
  assert.ok(loaded.ok);
  const store = createTenantLeaseStore(loaded.config, () => true);
  assert.ok(store instanceof PrimaryLeaseStore);
  assert.equal(store.timeoutMs, PRIMARY_LEASE_TIMEOUT_MS);
  assert.equal(PRIMARY_LEASE_TIMEOUT_MS, 1000, 'not a third of the 1 s lease period');
});
