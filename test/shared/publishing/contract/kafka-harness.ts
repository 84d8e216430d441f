/**
 * The harness of the kafka adapter's Publisher contract, for any real broker:
 * the shared one test/run-tests.js starts (publisher.kafka.test.ts) or a private
 * one of another Kafka version (publisher.kafka-3.9.test.ts). Each test
 * publishes to a topic of its own (created by the adapter, KAFKA_CREATE_TOPIC)
 * and reads it back from the beginning.
 */
import { KafkaPublisher } from '../../../../src/shared/publishing/kafka/kafka-publisher';
import { testConfig } from '../../../support/ingest-server';
import { messageFields } from '../../../support/field-map';
import { deleteTopicAfter, readTopic } from '../../../support/kafka';
import { uniqueName } from '../../../support/unique-name';
import { readRecord, type HarnessFactory } from './publisher.contract';

/** `brokers` resolves to the kafkajs `brokers` list once the broker answers. */
export function kafkaHarness(brokers: () => Promise<string[]>): HarnessFactory {
  return async (t) => {
    const bootstrap = await brokers();
    const topic = uniqueName('contract');
    deleteTopicAfter(t, bootstrap, topic);
    const config = testConfig({
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: bootstrap.join(','),
      KAFKA_TOPIC: topic,
      KAFKA_CREATE_TOPIC: 'true',
      // One partition: the suite reads "the record just published" as the last one,
      // which only one partition orders. Keys over many partitions: test/e2e/kafka-end-to-end.
      KAFKA_TOPIC_PARTITIONS: '1',
      KAFKA_TOPIC_REPLICATION: '1',
      BACKEND_CONNECT_TIMEOUT_MS: '30000',
    });
    const publisher = new KafkaPublisher(config);
    return {
      publisher,
      async readBack(tenantId) {
        const messages = await readTopic(bootstrap, topic);
        messages.sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)));
        return messages.map((m) => readRecord(messageFields(m))).filter((r) => r.fields.tenant_id === tenantId);
      },
    };
  };
}
