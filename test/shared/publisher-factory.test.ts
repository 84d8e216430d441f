import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { IngestError } from '../../src/shared/errors';
import { InMemoryPublisher } from '../../src/shared/in-memory-publisher';
import { createPublisher, type PublisherConfig } from '../../src/shared/publisher-factory';
import { RedisStreamsPublisher } from '../../src/shared/redis-streams-publisher';

const logger = pino({ level: 'silent' });
const config: PublisherConfig = {
  pubsubAdapter: 'in_memory',
  redisUrl: 'redis://127.0.0.1:6379',
  redisStreamKey: 'ingest:audio',
  redisStreamMaxlen: 0,
  backendConnectTimeoutMs: 1000,
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

test('PUBSUB_ADAPTER=kafka is refused with backend_unavailable until its adapter exists', () => {
  assert.throws(
    () => createPublisher({ ...config, pubsubAdapter: 'kafka' }, logger),
    (err) => err instanceof IngestError && err.code === 'backend_unavailable',
  );
});
