/**
 * The minimal correct Redis pipeline the service is measured against: the
 * reference edge (reference-listener.ts), one PipelineStream per socket,
 * and one ioredis connection with auto-pipelining, so that records of many
 * streams share round trips (what the service's adapter does too).
 *
 * Environment: JWT_PUBLIC_KEY, HOST, PORT, REDIS_URL, REDIS_STREAM_KEY
 * (default `ingest:audio`; `{tenant_id}` replaced), BUFFER_DURATION_MS
 * (default 3000), the service's names. Without REDIS_URL it is the
 * benchmark's `buffering` variant: the same streams and records, each
 * confirmed as soon as it is formed, which measures the buffering alone.
 */
import Redis from 'ioredis';
import { PipelineStream, type RecordSink } from './pipeline-stream';
import { referenceEnv, runReferenceServer, startReferenceListener } from './reference-listener';

const redisUrl = process.env.REDIS_URL ?? '';
const streamKey = process.env.REDIS_STREAM_KEY ?? 'ingest:audio';
const bufferMs = Number(process.env.BUFFER_DURATION_MS ?? 3000);
const redis = redisUrl === '' ? undefined : new Redis(redisUrl, { enableAutoPipelining: true });
redis?.on('error', (err: Error) => console.error(`pipeline: redis: ${err.message}`));

function sinkFor(tenant: string): RecordSink {
  const key = streamKey.split('{tenant_id}').join(tenant);
  if (!redis) return () => Promise.resolve();
  return (fields) => redis.xadd(key, '*', ...fields);
}

runReferenceServer(
  () =>
    startReferenceListener({
      ...referenceEnv(process.env),
      onStream: (ws, tenant) => new PipelineStream({ ws, sink: sinkFor(tenant), tenant, bufferMs }),
    }),
  async () => {
    if (redis) await redis.quit();
  },
);
