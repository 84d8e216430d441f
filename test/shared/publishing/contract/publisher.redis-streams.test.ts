/**
 * The Publisher contract for the redis_streams adapter, against the real Redis.
 * Each test gets its own key prefix (deleted afterwards) and reaches Redis through
 * a TCP proxy the outage test cuts and restores. Records are read back with
 * XRANGE as raw bytes, so payloads are compared byte for byte.
 */
import { RedisStreamsPublisher } from '../../../../src/shared/publishing/redis-streams/redis-streams-publisher';
import { entryFields } from '../../../support/field-map';
import { readStream, redisScratch, startTcpProxy } from '../../../support/redis';
import { publisherContract, readRecord } from './publisher.contract';

publisherContract('redis_streams', async (t) => {
  const { admin, prefix } = redisScratch(t, 'contract');
  const proxy = await startTcpProxy(t);
  const publisher = new RedisStreamsPublisher({
    url: proxy.url,
    streamKey: `${prefix}:{tenant_id}`,
    maxlen: 0,
    connectTimeoutMs: 2000,
  });
  return {
    publisher,
    async readBack(tenantId) {
      return (await readStream(admin, `${prefix}:${tenantId}`)).map((e) => readRecord(entryFields(e)));
    },
    async breakBackend() {
      proxy.cut();
    },
    async restoreBackend() {
      proxy.restore();
    },
  };
});
