import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { InMemoryPublisher } from '../../../src/shared/publishing/in-memory/in-memory-publisher';
import { KafkaPublisher } from '../../../src/shared/publishing/kafka/kafka-publisher';
import { testConfig } from '../../support/ingest-server';
import { createPublisher, type PublisherConfig } from '../../../src/shared/publishing/publisher-factory';
import { RedisStreamsPublisher } from '../../../src/shared/publishing/redis-streams/redis-streams-publisher';

const logger = pino({ level: 'silent' });
const config: PublisherConfig = {
  ...testConfig({ REDIS_URL: 'redis://127.0.0.1:6379', KAFKA_BROKERS: '127.0.0.1:9092' }),
  pubsubAdapter: 'in_memory',
};

test('PUBSUB_ADAPTER=in_memory gives the in-process publisher', async () => {
  const publisher = createPublisher(config, logger);
  assert.ok(publisher instanceof InMemoryPublisher);
  assert.equal(publisher.adapter, 'in_memory');
  await publisher.close();
});

test('PUBSUB_ADAPTER=redis_streams gives the Redis publisher, not yet connected', async (t) => {
  const publisher = createPublisher({ ...config, pubsubAdapter: 'redis_streams' }, logger);
  t.after(() => publisher.close());
  assert.ok(publisher instanceof RedisStreamsPublisher);
  assert.equal(publisher.health().state, 'connecting');
});

test('PUBSUB_ADAPTER=kafka gives the Kafka publisher, not yet connected', async (t) => {
  const publisher = createPublisher({ ...config, pubsubAdapter: 'kafka' }, logger);
  t.after(() => publisher.close());
  assert.ok(publisher instanceof KafkaPublisher);
  assert.equal(publisher.adapter, 'kafka');
  assert.equal(publisher.health().state, 'connecting');
});
