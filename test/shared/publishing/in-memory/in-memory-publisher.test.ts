/**
 * in_memory specifics beyond the shared Publisher contract (test/contract):
 * the bound on kept records, the outage hook and the test conveniences.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  InMemoryPublisher,
  type InMemoryPublisherOptions,
} from '../../../../src/shared/publishing/in-memory/in-memory-publisher';
import type { AudioRecord } from '../../../../src/shared/publishing/records';
import { isPublishError } from '../../../support/publisher-checks';
import { audioRecord } from '../../../support/sample-records';

async function startedPublisher(t: TestContext, options?: InMemoryPublisherOptions): Promise<InMemoryPublisher> {
  const publisher = new InMemoryPublisher(options);
  t.after(() => publisher.close());
  await publisher.start();
  return publisher;
}

test('only the last maxRecords records are kept and the dropped ones are counted', async (t) => {
  const publisher = await startedPublisher(t, { maxRecords: 5 });
  for (let i = 0; i < 12; i++) await publisher.publish(audioRecord('acme', i * 10 + 1, Buffer.from([i])));
  const kept = publisher.records() as AudioRecord[];
  assert.deepEqual(
    kept.map((r) => r.payload[0]),
    [7, 8, 9, 10, 11],
  );
  assert.equal(publisher.dropped, 7);
});

test('maxRecords must be a positive integer', () => {
  assert.throws(() => new InMemoryPublisher({ maxRecords: 0 }), RangeError);
});

test('a simulated outage fails publishes as retryable and degrades health until it ends', async (t) => {
  const publisher = await startedPublisher(t);
  const states: string[] = [];
  publisher.onHealthChange((h) => states.push(h.state));
  publisher.setFailing(true);
  await assert.rejects(publisher.publish(audioRecord('acme', 1, Buffer.from('x'))), isPublishError(true));
  publisher.setFailing(false);
  await publisher.publish(audioRecord('acme', 1, Buffer.from('x')));
  assert.deepEqual(states, ['degraded', 'up']);
  assert.equal(publisher.records().length, 1);
});

test('an outage set before start() shows as degraded once started', async (t) => {
  const publisher = new InMemoryPublisher();
  t.after(() => publisher.close());
  publisher.setFailing(true);
  await publisher.start();
  assert.equal(publisher.health().state, 'degraded');
});

test('stored records keep the bytes they were published with', async (t) => {
  const publisher = await startedPublisher(t);
  const payload = Buffer.from('abc');
  await publisher.publish(audioRecord('acme', 1, payload));
  payload.fill(0); // a caller reusing its buffer after the publish resolved
  assert.equal((publisher.records()[0] as AudioRecord).payload.toString(), 'abc');
});

test('onRecord reports each stored record, and unsubscribes', async (t) => {
  const publisher = await startedPublisher(t);
  const seen: number[] = [];
  const off = publisher.onRecord((r) => seen.push((r as AudioRecord).seq_start));
  await publisher.publish(audioRecord('acme', 1, Buffer.from('x')));
  off();
  await publisher.publish(audioRecord('acme', 11, Buffer.from('x')));
  assert.deepEqual(seen, [1]);
});
