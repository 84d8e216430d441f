/**
 * Chooses the Publisher for PUBSUB_ADAPTER. Construction never connects: the
 * caller runs start() and handles its failure (the worker reports it to the
 * primary), so a bad backend surfaces in one place.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema';
import { IngestError } from '../errors';
import { InMemoryPublisher } from './in-memory/in-memory-publisher';
import { KafkaPublisher, type KafkaPublisherConfig } from './kafka/kafka-publisher';
import type { Publisher } from './publisher';
import { RedisStreamsPublisher } from './redis-streams/redis-streams-publisher';

export type PublisherConfig = Pick<
  Config,
  | 'pubsubAdapter'
  | 'redisUrl'
  | 'redisClusterNodes'
  | 'redisSentinels'
  | 'redisSentinelName'
  | 'redisSentinelPassword'
  | 'redisWaitReplicas'
  | 'redisWaitTimeoutMs'
  | 'redisStreamKey'
  | 'redisStreamMaxlen'
  | 'redisDeduplicate'
  | 'redisDedupTtlSeconds'
  | 'backendConnectTimeoutMs'
> &
  KafkaPublisherConfig;

export function createPublisher(config: PublisherConfig, logger: Logger): Publisher {
  switch (config.pubsubAdapter) {
    case 'in_memory':
      return new InMemoryPublisher();
    case 'redis_streams':
      return new RedisStreamsPublisher({
        url: config.redisUrl,
        clusterNodes: config.redisClusterNodes,
        sentinels: config.redisSentinels,
        sentinelName: config.redisSentinelName,
        sentinelPassword: config.redisSentinelPassword,
        waitReplicas: config.redisWaitReplicas,
        waitTimeoutMs: config.redisWaitTimeoutMs,
        streamKey: config.redisStreamKey,
        maxlen: config.redisStreamMaxlen,
        deduplicate: config.redisDeduplicate,
        dedupTtlSeconds: config.redisDedupTtlSeconds,
        connectTimeoutMs: config.backendConnectTimeoutMs,
        logger: logger.child({ adapter: 'redis_streams' }),
      });
    case 'kafka':
      return new KafkaPublisher(config, logger.child({ adapter: 'kafka' }));
    default:
      return unknownAdapter(config.pubsubAdapter);
  }
}

function unknownAdapter(name: never): never {
  throw new IngestError('config_invalid', `unknown PUBSUB_ADAPTER "${String(name)}"`);
}
