/** MAX_STREAMS_PER_TENANT counted by the primary (no Redis for the limits): slots per tenant over every worker. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PrimaryToWorker } from '../../../src/shared/process/ipc';
import { TenantSlots } from '../../../src/primary/pool/tenant-slots';

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
