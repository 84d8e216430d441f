/**
 * Hole 3 of issue 10, as pure logic: with the idempotent producer, kafkajs rolls
 * a partition's sequence number back after a failed produce. The kafka adapter
 * (KafkaPublisher, unchanged, over a scripted kafkajs: scripted-idempotent-kafka.ts)
 * must never send another batch under the rolled-back sequence: after any failed
 * send, the next one goes out under a new producer id. Otherwise a broker that
 * stored the failed batch drops the next one as its duplicate while the send
 * resolves (confirmed, never stored), or refuses every later one
 * (OUT_OF_ORDER_SEQUENCE_NUMBER: the partition jams). The real-broker proof is
 * kafka-leader-failover.test.ts.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { ProducerRecord, RecordMetadata } from 'kafkajs';
import { PublishError } from '../../../../src/shared/errors';
import { FreshProducerAfterFailure } from '../../../../src/shared/publishing/kafka/fresh-producer-after-failure';
import { KafkaPublisher } from '../../../../src/shared/publishing/kafka/kafka-publisher';
import type { IngestRecord } from '../../../../src/shared/publishing/records';
import { testConfig } from '../../../support/ingest-server';
import { captureLogs } from '../../../support/log-capture';
import { audioRecord } from '../../../support/sample-records';
import { ScriptedIdempotentKafka } from './scripted-idempotent-kafka';

const TENANT = 'tenant-failed-send';

async function publisherOn(t: TestContext, kafka: ScriptedIdempotentKafka): Promise<KafkaPublisher> {
  kafka.install(t);
  const publisher = new KafkaPublisher(
    testConfig({ PUBSUB_ADAPTER: 'kafka', KAFKA_BROKERS: '127.0.0.1:1', KAFKA_TOPIC: kafka.topic }),
  );
  t.after(() => publisher.close());
  await publisher.start();
  return publisher;
}

function record(name: string): IngestRecord {
  return audioRecord(TENANT, 1, Buffer.from(name));
}

/** Publishes as a stream's queue does: retries a retryable failure (here at once), up to `attempts` tries. */
async function publishWithRetries(publisher: KafkaPublisher, records: IngestRecord[], attempts = 4): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await Promise.all(records.map((r) => publisher.publish(r)));
      return;
    } catch (err) {
      assert.ok(err instanceof PublishError && err.retryable, `a retryable failure, got ${String(err)}`);
      if (attempt === attempts) throw new Error(`still failing after ${attempts} attempts: ${err.message}`);
    }
  }
}

function storedPayloads(kafka: ScriptedIdempotentKafka): string[] {
  return kafka.stored.map((s) => (s.message.value as Buffer).toString());
}

const SAME_SIZE =
  'after a failed send whose batch the broker stored, a next batch of the same size is stored, ' +
  'not taken for its duplicate (nothing confirmed is missing)';
test(SAME_SIZE, async (t) => {
  const kafka = new ScriptedIdempotentKafka('failed-send-same-size');
  const publisher = await publisherOn(t, kafka);
  await publisher.publish(record('r1'));
  kafka.script({ kind: 'stored-answer-lost' });
  await assert.rejects(publisher.publish(record('r2')), (err) => err instanceof PublishError && err.retryable);
  const producerOfFailure = kafka.lastProducerId;

  await publisher.publish(record('r3')); // another stream's record: confirmed...
  assert.ok(storedPayloads(kafka).includes('r3'), `r3 was confirmed but never stored: ${storedPayloads(kafka).join()}`);
  const next = kafka.requests.at(-1);
  assert.notEqual(next?.producerId, producerOfFailure, 'the send after the failure used a new producer id');
  assert.equal(next?.firstSequence, 0);

  await publisher.publish(record('r2')); // the stream retries its record: at least once, a copy is allowed
  assert.deepEqual(
    storedPayloads(kafka).filter((p) => p !== 'r2'),
    ['r1', 'r3'],
  );
});

const OTHER_SIZE =
  'after a failed send whose batch the broker stored, a next batch of another size ' +
  'is not refused forever (OUT_OF_ORDER_SEQUENCE_NUMBER)';
test(OTHER_SIZE, async (t) => {
  const kafka = new ScriptedIdempotentKafka('failed-send-other-size');
  const publisher = await publisherOn(t, kafka);
  await publisher.publish(record('r1'));
  kafka.script({ kind: 'stored-answer-lost' });
  await assert.rejects(publisher.publish(record('r2')), (err) => err instanceof PublishError && err.retryable);

  // Two streams' records in one tick: one batch of two.
  await publishWithRetries(publisher, [record('r3'), record('r4')]);
  assert.ok(storedPayloads(kafka).includes('r3') && storedPayloads(kafka).includes('r4'));
  await publisher.publish(record('r5'));
  assert.equal(storedPayloads(kafka).at(-1), 'r5');
});

for (const fatal of ['UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']) {
  test(`${fatal} is recovered by a new producer id, not retried forever`, async (t) => {
    const kafka = new ScriptedIdempotentKafka(`failed-send-${fatal.toLowerCase()}`);
    const publisher = await publisherOn(t, kafka);
    await publisher.publish(record('r1'));
    kafka.refuseProducer(kafka.lastProducerId, fatal);
    await publishWithRetries(publisher, [record('r2')]);
    assert.deepEqual(storedPayloads(kafka), ['r1', 'r2']);
  });
}

test('after a refused send (no answer lost), the next send still goes through a new producer id', async (t) => {
  const kafka = new ScriptedIdempotentKafka('failed-send-refused');
  const publisher = await publisherOn(t, kafka);
  await publisher.publish(record('r1'));
  const first = kafka.lastProducerId;
  kafka.script({ kind: 'refused', type: 'NOT_ENOUGH_REPLICAS' });
  await assert.rejects(publisher.publish(record('r2')), (err) => err instanceof PublishError && err.retryable);
  await publisher.publish(record('r2'));
  assert.notEqual(kafka.lastProducerId, first);
  assert.equal(kafka.producersCreated, 2);
  assert.deepEqual(storedPayloads(kafka), ['r1', 'r2']);
});

const ONE_PARTITION =
  'one send carries the records of one partition ' +
  '(kafkajs retries a multi-broker send only towards brokers that have not answered)';
test(ONE_PARTITION, async (t) => {
  const kafka = new ScriptedIdempotentKafka('failed-send-partitions', 4);
  const publisher = await publisherOn(t, kafka);
  const records = Array.from({ length: 24 }, (_, i) => record(`r${i}`));
  await Promise.all(records.map((r) => publisher.publish(r)));
  assert.equal(kafka.stored.length, records.length);
  assert.ok(new Set(kafka.stored.map((s) => s.partition)).size > 1, 'records spread over several partitions');
  for (const send of kafka.sends) assert.equal(send.partitions.length, 1, `a send to ${send.partitions.join()}`);
  // The adapter's partition is kafkajs's murmur2 choice: a key keeps the partition the Java client would give it.
  const { Partitioners } = await import('kafkajs');
  const partitioner = Partitioners.DefaultPartitioner();
  for (const s of kafka.stored) {
    const expected = partitioner({
      topic: kafka.topic,
      partitionMetadata: kafka.partitionMetadata,
      message: { key: s.message.key, value: null },
    });
    assert.equal(s.partition, expected);
  }
});

test("kafkajs's warning about limited retries of the idempotent producer is logged, not hidden", () => {
  const logs = captureLogs();
  const publisher = new KafkaPublisher(
    testConfig({ PUBSUB_ADAPTER: 'kafka', KAFKA_BROKERS: '127.0.0.1:1', KAFKA_TOPIC: 'warning' }),
    logs.logger,
  );
  void publisher.close();
  const warning = logs.entries.find((e) => String(e.msg).includes('Limiting retries for the idempotent producer'));
  assert.ok(warning, `no warning among ${logs.entries.map((e) => String(e.msg)).join(' | ')}`);
  assert.equal(warning.level, 40);
});

interface HandSend {
  resolve: (value: RecordMetadata[]) => void;
  reject: (err: Error) => void;
}

/** A producer whose sends the test settles by hand. */
function handProducer(name: string, events: string[]) {
  const sends: HandSend[] = [];
  return {
    sends,
    connect: () => {
      events.push(`${name} connect`);
      return Promise.resolve();
    },
    disconnect: () => {
      events.push(`${name} disconnect`);
      return Promise.resolve();
    },
    send: (record: ProducerRecord) => {
      events.push(`${name} send ${String(record.messages[0]?.value)}`);
      return new Promise<RecordMetadata[]>((resolve, reject) => sends.push({ resolve, reject }));
    },
  };
}

const REPLACEMENT_ORDER =
  'a new producer id is taken only once every send of the failed one has settled, ' +
  'and the failed one is disconnected first';
test(REPLACEMENT_ORDER, async () => {
  const events: string[] = [];
  const producers = [handProducer('A', events), handProducer('B', events)];
  let created = 0;
  const identity = new FreshProducerAfterFailure(() => producers[created++]);
  await identity.connect();
  const [a] = producers;
  const first = identity.send({ topic: 't', messages: [{ value: 'p0' }] });
  const second = identity.send({ topic: 't', messages: [{ value: 'p1' }] });
  await new Promise((resolve) => setImmediate(resolve));
  a.sends[0].reject(new Error('timed out'));
  await assert.rejects(first);
  const third = identity.send({ topic: 't', messages: [{ value: 'p0 again' }] });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events, ['A connect', 'A send p0', 'A send p1'], 'nothing more before A settled');
  a.sends[1].resolve([]);
  await second;
  await new Promise((resolve) => setImmediate(resolve));
  producers[1].sends[0].resolve([]);
  await third;
  assert.deepEqual(events, ['A connect', 'A send p0', 'A send p1', 'A disconnect', 'B connect', 'B send p0 again']);
  await identity.close();
  assert.equal(events.at(-1), 'B disconnect');
});

test('a send that was getting the producer when another send failed goes out on the new producer id', async () => {
  const events: string[] = [];
  const producers = [handProducer('A', events), handProducer('B', events)];
  let created = 0;
  const identity = new FreshProducerAfterFailure(() => producers[created++]);
  await identity.connect();
  const [a, b] = producers;
  const first = identity.send({ topic: 't', messages: [{ value: 'p0' }] });
  await new Promise((resolve) => setImmediate(resolve));
  // The failure is settled before the next send has its producer in hand.
  a.sends[0].reject(new Error('timed out'));
  const second = identity.send({ topic: 't', messages: [{ value: 'p1' }] });
  await assert.rejects(first);
  await new Promise((resolve) => setImmediate(resolve));
  b.sends[0].resolve([]);
  await second;
  assert.deepEqual(events, ['A connect', 'A send p0', 'A disconnect', 'B connect', 'B send p1']);
  await identity.close();
});
