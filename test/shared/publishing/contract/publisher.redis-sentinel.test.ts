/**
 * The Publisher contract for the redis_streams adapter behind real Redis
 * Sentinels (a master, its replica, three redis-sentinel processes:
 * test/support/redis-topology.ts): the adapter asks the sentinels for the
 * master and writes there. The outage kills the master and its replica (so no
 * failover can happen) and starts them again. One group serves the whole file.
 */
import { before } from 'node:test';
import { RedisStreamsPublisher } from '../../../../src/shared/publishing/redis-streams/redis-streams-publisher';
import { entryFields } from '../../../support/field-map';
import { readStream } from '../../../support/redis';
import { fileScope, startRedisSentinelGroup, type RedisSentinelGroup } from '../../../support/redis-topology';
import { uniqueName } from '../../../support/unique-name';
import { publisherContract, readRecord } from './publisher.contract';

const scope = fileScope();
let group: RedisSentinelGroup;
before(async () => {
  group = await startRedisSentinelGroup(scope);
});

publisherContract('redis_streams behind Redis Sentinel', async () => {
  const prefix = uniqueName('contract');
  const publisher = new RedisStreamsPublisher({
    url: '',
    sentinels: group.addresses,
    sentinelName: group.name,
    streamKey: `${prefix}:{tenant_id}`,
    maxlen: 0,
    connectTimeoutMs: 5000,
  });
  return {
    publisher,
    async readBack(tenantId) {
      return (await readStream(group.master.client, `${prefix}:${tenantId}`)).map((e) => readRecord(entryFields(e)));
    },
    async breakBackend() {
      await Promise.all([group.master.signal('SIGKILL'), group.replica.signal('SIGKILL')]);
    },
    async restoreBackend() {
      await group.master.restart();
      await group.replica.restart();
      await group.waitForMaster(group.master.port, 'the restarted master named by the sentinels');
    },
  };
});
