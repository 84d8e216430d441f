/**
 * The Publisher contract for the kafka adapter, against the real broker that
 * test/run-tests.js starts. Each test publishes to a topic of its own (created
 * by the adapter, KAFKA_CREATE_TOPIC) and reads it back from the beginning.
 * The outage test needs a broker it can stop: it runs against a private broker
 * in test/e2e/kafka-outage.test.ts, so that stopping it never disturbs the
 * shared one other test files use at the same time.
 */
import { KafkaPublisher } from '../../../../src/shared/publishing/kafka/kafka-publisher';
import { testConfig } from '../../../support/ingest-server';
import { messageFields } from '../../../support/field-map';
import { deleteTopicAfter, readTopic, SHARED_BROKERS } from '../../../support/kafka';
import { uniqueName } from '../../../support/unique-name';
import { publisherContract, readRecord } from './publisher.contract';

publisherContract(
  'kafka',
  async (t) => {
    const topic = uniqueName('contract');
    deleteTopicAfter(t, SHARED_BROKERS, topic);
    const config = testConfig({
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: SHARED_BROKERS.join(','),
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
        const messages = await readTopic(SHARED_BROKERS, topic);
        messages.sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)));
        return messages.map((m) => readRecord(messageFields(m))).filter((r) => r.fields.tenant_id === tenantId);
      },
    };
  },
  { outage: false },
);
