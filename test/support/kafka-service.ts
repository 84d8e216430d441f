/**
 * The built service with two workers publishing to Kafka (the shared broker,
 * or a private broker or cluster the test started), on a topic it creates
 * itself (KAFKA_CREATE_TOPIC), verifying tokens signed by a fresh key pair,
 * started and ready to take streams. The Redis counterpart is redis-cluster.ts.
 */
import type { TestContext } from 'node:test';
import { startCluster, type RunningCluster } from './cluster';
import { freePort } from './free-port';
import { httpGet } from './http-get';
import { makeKeyPair, signToken, type Claims, type TestKeyPair } from './tokens';

export interface KafkaServiceOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  /** Of the topic the service creates. */
  readonly partitions: number;
  readonly replication: number;
}

export interface KafkaService {
  readonly cluster: RunningCluster;
  readonly port: number;
  /** The native stream endpoint, ws://127.0.0.1:PORT/v1/ingest. */
  readonly url: string;
  readonly keys: TestKeyPair;
  /** A token with these claims (over the defaults), signed by the service's key. */
  readonly sign: (claims?: Claims) => string;
  /** The `status` of the primary's /health. */
  readonly health: () => Promise<string>;
}

/**
 * Starts WORKERS=2, PUBSUB_ADAPTER=kafka on a free PORT; `env` adds to or
 * overrides that. Resolves once the primary logs "all workers ready".
 */
export async function startKafkaService(
  t: TestContext,
  options: KafkaServiceOptions,
  env: Record<string, string> = {},
): Promise<KafkaService> {
  const keys = makeKeyPair('ec');
  const port = await freePort();
  const cluster = await startCluster(t, {
    PORT: String(port),
    WORKERS: '2',
    JWT_PUBLIC_KEY: keys.publicKeyPem,
    PUBSUB_ADAPTER: 'kafka',
    KAFKA_BROKERS: options.brokers.join(','),
    KAFKA_TOPIC: options.topic,
    KAFKA_CREATE_TOPIC: 'true',
    KAFKA_TOPIC_PARTITIONS: String(options.partitions),
    KAFKA_TOPIC_REPLICATION: String(options.replication),
    BACKEND_CONNECT_TIMEOUT_MS: '60000',
    ...env,
  });
  await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready', 120_000);
  const health = async (): Promise<string> => {
    const answer = await httpGet(`http://127.0.0.1:${cluster.metricsPort}/health`);
    return (JSON.parse(answer.body) as { status: string }).status;
  };
  return {
    cluster,
    port,
    url: `ws://127.0.0.1:${port}/v1/ingest`,
    keys,
    sign: (claims: Claims = {}) => signToken(keys.privateKey, claims),
    health,
  };
}
