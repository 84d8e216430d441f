/**
 * The contract every Publisher keeps (src/shared/publishing/publisher.ts, protocol.md
 * sections 2 and 3), run once per adapter. An adapter's test file supplies a
 * harness: the publisher, not started, and a way to read back what the backend
 * holds as normalised records, so the same assertions hold for Redis Streams
 * entries, Kafka messages and in-process records alike.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { Publisher } from '../../../../src/shared/publishing/publisher';
import type {
  IngestRecord,
  RecordBase,
  StreamEndedRecord,
  StreamStartedRecord,
} from '../../../../src/shared/publishing/records';
import type { FieldMap } from '../../../support/field-map';
import { isCode, isPublishError, stateIs, waitForHealth } from '../../../support/publisher-checks';
import { audioRecord, recordBase } from '../../../support/sample-records';
import { uniqueName } from '../../../support/unique-name';

/** A record as a consumer reads it back: attributes as strings, payload as bytes. */
export interface ReadRecord {
  readonly type: string;
  /** Every attribute, `type` included, as the backend carries it (strings). */
  readonly fields: Readonly<Record<string, string>>;
  /**
   * The raw payload of an audio record; undefined for the other types (an adapter
   * that also gives them a body, like Kafka's JSON value, checks it in its own tests).
   */
  readonly payload: Buffer | undefined;
}

/** The suite's view of a record read back from any backend (test/support/field-map.ts). */
export function readRecord(record: FieldMap): ReadRecord {
  const fields: Record<string, string> = {};
  for (const [name, value] of record) if (name !== 'payload') fields[name] = value.toString('utf8');
  return { type: fields.type, fields, payload: record.get('payload') };
}

export interface PublisherHarness {
  /** A fresh publisher, not started; the suite starts and closes it. */
  readonly publisher: Publisher;
  /** Every record the backend holds for this tenant, in the backend's order for each stream. */
  readonly readBack: (tenantId: string) => Promise<ReadRecord[]>;
  /** Makes the backend unreachable for the publisher (optional: enables the outage test). */
  readonly breakBackend?: () => Promise<void>;
  /** Ends what breakBackend started. */
  readonly restoreBackend?: () => Promise<void>;
}

/** Builds a harness; it registers its own cleanup (keys, proxies, clients) on `t`. */
export type HarnessFactory = (t: TestContext) => Promise<PublisherHarness>;

function baseFields(record: RecordBase): Record<string, string> {
  const { tenant_id, interaction_id, stream_id, source, received_at } = record;
  return { tenant_id, interaction_id, stream_id, source, received_at };
}

async function started(t: TestContext, factory: HarnessFactory): Promise<PublisherHarness> {
  const harness = await factory(t);
  t.after(() => harness.publisher.close());
  await harness.publisher.start();
  return harness;
}

export interface ContractOptions {
  /**
   * Run the outage test (default true); the harness must then provide
   * breakBackend/restoreBackend. Turning it off is a visible, reviewed choice,
   * never a silent skip.
   */
  outage?: boolean;
}

export function publisherContract(name: string, factory: HarnessFactory, options: ContractOptions = {}): void {
  describe(`Publisher contract: ${name}`, () => {
    test('start() brings health up', async (t) => {
      const { publisher } = await started(t, factory);
      assert.equal(publisher.health().state, 'up');
    });

    test('publish before start() is rejected as retryable and publishes nothing', async (t) => {
      const harness = await factory(t);
      t.after(() => harness.publisher.close());
      const tenant = uniqueName('tenant');
      await assert.rejects(
        harness.publisher.publish(audioRecord(tenant, 1, Buffer.from('early'))),
        isPublishError(true),
      );
      await harness.publisher.start();
      assert.deepEqual(await harness.readBack(tenant), []);
    });

    test('an audio record carries the protocol fields and its payload byte-exact', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      const record = audioRecord(tenant, 1, randomBytes(3200));
      await publisher.publish(record);
      const [read, ...rest] = await readBack(tenant);
      assert.equal(rest.length, 0);
      assert.equal(read.type, 'audio');
      assert.deepEqual(read.fields, {
        type: 'audio',
        ...baseFields(record),
        seq_start: '1',
        seq_end: '10',
        frames: '10',
        encoding: 'pcm_s16le',
        sample_rate: '8000',
        channels: '1',
        frame_bytes: '320',
      });
      assert.ok(read.payload && read.payload.equals(record.payload), 'payload differs');
    });

    test('a stream_started record carries the protocol fields and its metadata as JSON', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      const metadata = { agent_id: 'a-7', nested: { queue: 'sales' }, tags: ['x', 'ü'] };
      const record: StreamStartedRecord = {
        ...recordBase(tenant),
        type: 'stream_started',
        encoding: 'mulaw',
        sample_rate: 16000,
        channels: 2,
        first_seq: 5,
        metadata,
      };
      await publisher.publish(record);
      const [read] = await readBack(tenant);
      const { metadata: json, ...fields } = read.fields;
      assert.deepEqual(fields, {
        type: 'stream_started',
        ...baseFields(record),
        encoding: 'mulaw',
        sample_rate: '16000',
        channels: '2',
        first_seq: '5',
      });
      assert.deepEqual(JSON.parse(json), metadata);
      assert.equal(read.payload, undefined);
    });

    test('a stream_ended record carries last_seq, frames and reason', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      const record: StreamEndedRecord = {
        ...recordBase(tenant),
        type: 'stream_ended',
        last_seq: 42,
        frames: 40,
        reason: 'stop:callended',
      };
      await publisher.publish(record);
      const [read] = await readBack(tenant);
      assert.deepEqual(read.fields, {
        type: 'stream_ended',
        ...baseFields(record),
        last_seq: '42',
        frames: '40',
        reason: 'stop:callended',
      });
      assert.equal(read.payload, undefined);
    });

    test('dtmf and mark records carry their attributes', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      const rb = { ...recordBase(tenant), source: 'exotel' as const };
      await publisher.publish({ ...rb, type: 'dtmf', digit: '#', duration_ms: 120 });
      await publisher.publish({ ...rb, type: 'mark', name: 'greeting-done' });
      const read = await readBack(tenant);
      assert.deepEqual(
        read.map((r) => r.fields),
        [
          { type: 'dtmf', ...baseFields(rb), digit: '#', duration_ms: '120' },
          { type: 'mark', ...baseFields(rb), name: 'greeting-done' },
        ],
      );
    });

    test('a 1 MiB payload of random bytes is published byte-exact', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      const payload = randomBytes(1024 * 1024);
      await publisher.publish(audioRecord(tenant, 1, payload));
      const [read] = await readBack(tenant);
      assert.ok(read.payload && read.payload.equals(payload), 'payload differs');
    });

    test('an empty payload is published as an empty payload', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      await publisher.publish(audioRecord(tenant, 1, Buffer.alloc(0)));
      const [read] = await readBack(tenant);
      assert.ok(read.payload, 'an audio record always has a payload');
      assert.equal(read.payload.length, 0);
    });

    test('publish resolves only once the backend holds the record', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      for (let seq = 1; seq <= 30; seq += 10) {
        const record = audioRecord(tenant, seq, randomBytes(64));
        await publisher.publish(record);
        const read = await readBack(tenant);
        assert.equal(read.at(-1)?.fields.seq_start, String(seq));
      }
    });

    test('records of each stream are read back in publish order under concurrency', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      const streams = Array.from({ length: 50 }, () => recordBase(tenant));
      // Each stream publishes sequentially (the caller's contract), all streams at once.
      await Promise.all(
        streams.map(async (stream) => {
          for (let i = 0; i < 20; i++)
            await publisher.publish(audioRecord(tenant, i * 10 + 1, Buffer.from([i]), stream));
        }),
      );
      const read = await readBack(tenant);
      assert.equal(read.length, 1000);
      for (const stream of streams) {
        const mine = read.filter((r) => r.fields.stream_id === stream.stream_id);
        assert.deepEqual(
          mine.map((r) => Number(r.fields.seq_start)),
          Array.from({ length: 20 }, (_, i) => i * 10 + 1),
        );
        assert.deepEqual(
          mine.map((r) => r.payload?.[0]),
          Array.from({ length: 20 }, (_, i) => i),
        );
      }
    });

    test(
      'a record without tenant_id or interaction_id is rejected ' + 'with record_invalid and not published',
      async (t) => {
        const { publisher, readBack } = await started(t, factory);
        const tenant = uniqueName('tenant');
        const noTenant = audioRecord('', 1, Buffer.from('x'));
        const noInteraction = audioRecord(tenant, 1, Buffer.from('x'), { interaction_id: '' });
        const missing = {
          ...audioRecord(tenant, 1, Buffer.from('x')),
          interaction_id: undefined,
        } as unknown as IngestRecord;
        for (const record of [noTenant, noInteraction, missing]) {
          let pending: Promise<void> | undefined;
          assert.doesNotThrow(() => {
            pending = publisher.publish(record);
          }, 'publish must reject, never throw synchronously');
          await assert.rejects(pending!, isCode('record_invalid'));
        }
        assert.deepEqual(await readBack(tenant), []);
        assert.deepEqual(await readBack(''), []);
        assert.equal(publisher.health().state, 'up');
      },
    );

    test('close() is idempotent: later calls return the same promise', async (t) => {
      const { publisher } = await started(t, factory);
      const first = publisher.close();
      const second = publisher.close();
      assert.equal(first, second);
      await first;
      assert.equal(publisher.close(), first);
    });

    test('close() waits for in-flight publishes', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      const pending = Array.from({ length: 20 }, (_, i) =>
        publisher.publish(audioRecord(tenant, i * 10 + 1, randomBytes(256))),
      );
      await publisher.close();
      const outcomes = await Promise.allSettled(pending);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        Array(20).fill('fulfilled'),
      );
      assert.equal((await readBack(tenant)).length, 20);
    });

    test('publish after close() is rejected with publisher_closed', async (t) => {
      const { publisher, readBack } = await started(t, factory);
      const tenant = uniqueName('tenant');
      await publisher.close();
      await assert.rejects(publisher.publish(audioRecord(tenant, 1, Buffer.from('late'))), isCode('publisher_closed'));
      assert.deepEqual(await readBack(tenant), []);
    });

    test('health is closed after close()', async (t) => {
      const { publisher } = await started(t, factory);
      await publisher.close();
      assert.equal(publisher.health().state, 'closed');
    });

    test('start() after close() is rejected with publisher_closed', async (t) => {
      const { publisher } = await factory(t);
      await publisher.close();
      await assert.rejects(publisher.start(), isCode('publisher_closed'));
      assert.equal(publisher.health().state, 'closed');
    });

    test('onHealthChange reports each change until its unsubscribe is called', async (t) => {
      const { publisher } = await started(t, factory);
      const kept: string[] = [];
      const dropped: string[] = [];
      publisher.onHealthChange((health) => kept.push(health.state));
      const unsubscribe = publisher.onHealthChange((health) => dropped.push(health.state));
      unsubscribe();
      await publisher.close();
      assert.deepEqual(kept, ['closed']);
      assert.deepEqual(dropped, []);
    });

    if (options.outage === false) return;
    test('an outage rejects publishes as retryable and degrades health; recovery restores both', async (t) => {
      const harness = await started(t, factory);
      const { publisher, readBack } = harness;
      if (!harness.breakBackend || !harness.restoreBackend) {
        assert.fail(`the ${name} harness must provide breakBackend/restoreBackend`);
      }
      const tenant = uniqueName('tenant');
      await harness.breakBackend();
      await waitForHealth(publisher, stateIs('degraded', 'down'), 'degraded or down');
      await assert.rejects(publisher.publish(audioRecord(tenant, 1, Buffer.from('lost'))), isPublishError(true));
      assert.ok(stateIs('degraded', 'down')(publisher.health()));
      assert.ok(publisher.health().lastError, 'health names the failure');

      await harness.restoreBackend();
      await waitForHealth(publisher, stateIs('up'), 'up');
      await publisher.publish(audioRecord(tenant, 11, Buffer.from('kept')));
      const read = await readBack(tenant);
      assert.equal(read.at(-1)?.fields.seq_start, '11');
    });
  });
}
