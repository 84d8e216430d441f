/**
 * validate:deployment's Redis check: with PUBSUB_ADAPTER=redis_streams, REDIS_URL
 * must answer PING within BACKEND_CONNECT_TIMEOUT_MS, the time a worker waits
 * for it at start before it reports a start-up failure.
 */
import Redis from 'ioredis';
import { errorMessage } from '../../shared/errors';
import { configuredOr, runProbe, within, type Verdict } from './verdict';

async function probeRedis(url: string, timeoutMs: number): Promise<Verdict> {
  const target = describe(url);
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null, // one attempt: the verdict is about now
  });
  // The socket's own error (ECONNREFUSED, ETIMEDOUT) says more than the rejection's "Connection is closed".
  let socketError: unknown;
  redis.on('error', (err) => (socketError = err));
  const started = Date.now();
  try {
    await within(
      redis.connect().then(() => redis.ping()),
      timeoutMs,
      'PING',
    );
    return { level: 'green', message: `REDIS_URL ${target} answered PING in ${Date.now() - started} ms` };
  } catch (err) {
    return {
      level: 'red',
      message:
        `REDIS_URL ${target} did not answer PING within BACKEND_CONNECT_TIMEOUT_MS (${timeoutMs} ms): ` +
        `${errorMessage(socketError ?? err).replace(/\.$/, '')}; ` +
        'start Redis or correct REDIS_URL (host, port, password, firewall)',
    };
  } finally {
    redis.disconnect();
  }
}

/** host:port only: the URL may carry a password. */
function describe(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '6379'}`;
}

runProbe(() =>
  configuredOr((config) =>
    config.pubsubAdapter === 'redis_streams'
      ? probeRedis(config.redisUrl, config.backendConnectTimeoutMs)
      : { level: 'skip', message: `not used (PUBSUB_ADAPTER=${config.pubsubAdapter})` },
  ),
);
