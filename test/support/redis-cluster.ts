/**
 * The cluster most end-to-end tests run: the built service with two workers
 * publishing to Redis Streams under the test's own key prefix, verifying
 * tokens signed by a fresh key pair, started and ready to take streams.
 */
import type { TestContext } from 'node:test';
import type Redis from 'ioredis';
import { startCluster, type RunningCluster } from './cluster';
import { freePort } from './free-port';
import { redisScratch, REDIS_URL } from './redis';
import { makeKeyPair, signToken, type Claims, type TestKeyPair } from './tokens';

export interface RedisClusterOptions {
  /** Where the workers reach Redis, e.g. a TcpProxy's url. Default: the local Redis. */
  readonly redisUrl?: string;
  /** REDIS_STREAM_KEY from the test's key prefix. Default: `${prefix}:audio`. */
  readonly streamKey?: (prefix: string) => string;
  /** false: no JWT_PUBLIC_KEY, for tests whose clients authenticate another way. Default true. */
  readonly jwt?: boolean;
}

export interface RedisCluster {
  readonly cluster: RunningCluster;
  readonly port: number;
  /** The native stream endpoint, ws://127.0.0.1:PORT/v1/ingest. */
  readonly url: string;
  readonly keys: TestKeyPair;
  /** Inspects Redis; quit after the test. */
  readonly admin: Redis;
  /** The test's key prefix: everything under it is deleted after the test. */
  readonly prefix: string;
  /** REDIS_STREAM_KEY as the cluster got it (may hold `{tenant_id}`). */
  readonly streamKey: string;
  /** A token for the default tenant ('tenant-a'), minted at start. */
  readonly token: string;
  /** A token with these claims (over the defaults), signed by the cluster's key. */
  readonly sign: (claims?: Claims) => string;
}

/**
 * Starts WORKERS=2, PUBSUB_ADAPTER=redis_streams on a free PORT; `env` adds to
 * or overrides that. Resolves once the primary logs "all workers ready". Keys
 * under the prefix are deleted, and the cluster killed, after the test.
 */
export async function startRedisCluster(
  t: TestContext,
  label: string,
  env: Record<string, string> = {},
  options: RedisClusterOptions = {},
): Promise<RedisCluster> {
  const { admin, prefix } = redisScratch(t, label);
  const keys = makeKeyPair('ec');
  const port = await freePort();
  const streamKey = (options.streamKey ?? ((p: string): string => `${p}:audio`))(prefix);
  const cluster = await startCluster(t, {
    PORT: String(port),
    WORKERS: '2',
    PUBSUB_ADAPTER: 'redis_streams',
    REDIS_URL: options.redisUrl ?? REDIS_URL,
    REDIS_STREAM_KEY: streamKey,
    ...(options.jwt === false ? {} : { JWT_PUBLIC_KEY: keys.publicKeyPem }),
    ...env,
  });
  await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
  const sign = (claims: Claims = {}): string => signToken(keys.privateKey, claims);
  return {
    cluster,
    port,
    url: `ws://127.0.0.1:${port}/v1/ingest`,
    keys,
    admin,
    prefix,
    streamKey,
    token: sign({ tenant_id: 'tenant-a' }),
    sign,
  };
}
