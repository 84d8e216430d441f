/**
 * The Publisher contract for the redis_streams adapter on a real Redis Cluster
 * (3 masters, 3 replicas: test/support/redis-topology.ts). The key template
 * keeps `{tenant_id}` as the hash tag, so each tenant's records are read back
 * from the master that serves its slot. The outage kills every node and
 * starts them again (same ports, same cluster configuration). One cluster
 * serves the whole file (each test has its own key prefix): making one takes
 * seconds.
 */
import { before } from 'node:test';
import { RedisStreamsPublisher } from '../../../../src/shared/publishing/redis-streams/redis-streams-publisher';
import { entryFields } from '../../../support/field-map';
import { fileScope, startRedisClusterNodes, type RedisClusterNodes } from '../../../support/redis-topology';
import { uniqueName } from '../../../support/unique-name';
import { publisherContract, readRecord } from './publisher.contract';

const scope = fileScope();
let cluster: RedisClusterNodes;
before(async () => {
  cluster = await startRedisClusterNodes(scope);
});

publisherContract('redis_streams on a Redis Cluster', async () => {
  const prefix = uniqueName('contract');
  const publisher = new RedisStreamsPublisher({
    url: '',
    clusterNodes: cluster.seeds,
    streamKey: `${prefix}:{tenant_id}`,
    maxlen: 0,
    connectTimeoutMs: 5000,
  });
  return {
    publisher,
    async readBack(tenantId) {
      return (await cluster.readKey(`${prefix}:{${tenantId}}`)).map((e) => readRecord(entryFields(e)));
    },
    async breakBackend() {
      await Promise.all(cluster.nodes.map((n) => n.signal('SIGKILL')));
    },
    async restoreBackend() {
      await Promise.all(cluster.nodes.map((n) => n.restart()));
      await cluster.waitUntilHealthy('the restarted cluster healthy');
    },
  };
});
