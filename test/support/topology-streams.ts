/**
 * What the Redis Cluster and Sentinel end-to-end tests share: the built
 * service (WORKERS=2) publishing to a topology of redis-topology.ts, many
 * tenants' streams run as well-behaved resuming clients, the /health timeline
 * of the primary while a master dies, and the read-back check that allows the
 * repeats at-least-once delivery may leave (and counts them).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { startCluster, type RunningCluster } from './cluster';
import { field, type FieldMap } from './field-map';
import { freePort } from './free-port';
import { httpGet, pollUntil } from './http-get';
import { frameBytes } from './ingest-server';
import {
  assertResumedAudioCovers,
  runResumingStream,
  type Hold,
  type ResumingStreamResult,
  type StreamProgress,
} from './resuming-stream';
import type { SentStream } from './stream-check';
import { makeKeyPair, signToken } from './tokens';
import { uniqueName } from './unique-name';

export const ACK_INTERVAL = 5;

export interface TopologyService {
  readonly cluster: RunningCluster;
  readonly url: string;
  /** REDIS_STREAM_KEY's prefix, unique to the test. */
  readonly prefix: string;
  readonly token: (tenantId: string) => string;
  /** The primary's /health status (healthy, degraded, unhealthy). */
  readonly health: () => Promise<string>;
}

/** The service on the test's topology (`env` names it), ready to take streams. */
export async function startServiceOnTopology(
  t: TestContext,
  label: string,
  env: Record<string, string>,
): Promise<TopologyService> {
  const keys = makeKeyPair('ec');
  const port = await freePort();
  const prefix = uniqueName(label);
  const cluster = await startCluster(t, {
    PORT: String(port),
    WORKERS: '2',
    JWT_PUBLIC_KEY: keys.publicKeyPem,
    PUBSUB_ADAPTER: 'redis_streams',
    REDIS_STREAM_KEY: `${prefix}:{tenant_id}:audio`,
    BACKEND_CONNECT_TIMEOUT_MS: '30000',
    BACKEND_UNHEALTHY_AFTER_MS: '600000',
    BUFFER_DURATION_MS: '100',
    ACK_INTERVAL: String(ACK_INTERVAL),
    ...env,
  });
  await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready', 60_000);
  const health = async (): Promise<string> =>
    (JSON.parse((await httpGet(`http://127.0.0.1:${cluster.metricsPort}/health`)).body) as { status: string }).status;
  return {
    cluster,
    url: `ws://127.0.0.1:${port}/v1/ingest`,
    prefix,
    token: (tenantId) => signToken(keys.privateKey, { tenant_id: tenantId }),
    health,
  };
}

/** `count` streams of `frames` frames each, stream i of tenant `tenantOf(i)`. */
export function sentStreams(count: number, frames: number, tenantOf: (i: number) => string): SentStream[] {
  return Array.from({ length: count }, (_, i) => ({
    interactionId: uniqueName(`call-${i}`),
    tenantId: tenantOf(i),
    firstSeq: 1,
    frames: Array.from({ length: frames }, (_, k) => frameBytes(i, k + 1)),
  }));
}

/** A hold for `count` streams at `beforeSeq`: `reached` once all are parked there, until `release()`. */
export function holdAll(count: number, beforeSeq: number): { hold: Hold; reached: Promise<void>; release(): void } {
  let parked = 0;
  let release!: () => void;
  let allParked!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (allParked = resolve));
  const onReached = (): void => {
    if (++parked === count) allParked();
  };
  return { hold: { beforeSeq, release: released, onReached }, reached, release };
}

export interface StreamAllOptions {
  readonly concurrency?: number;
  readonly hold?: Hold;
  /** Pause between two batches of ACK_INTERVAL frames (runResumingStream's batchIntervalMs). */
  readonly batchIntervalMs?: number;
  /** Stream i's progress in progress[i], kept up to date while it runs. */
  readonly progress?: readonly StreamProgress[];
}

/** Runs every stream to its end, `concurrency` at a time, each resuming as the protocol says. */
export async function streamAll(
  t: TestContext,
  service: TopologyService,
  sent: readonly SentStream[],
  options: StreamAllOptions = {},
): Promise<ResumingStreamResult[]> {
  const results: ResumingStreamResult[] = new Array<ResumingStreamResult>(sent.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < sent.length) {
      const i = next++;
      results[i] = await runResumingStream(t, {
        url: service.url,
        token: service.token(sent[i].tenantId),
        sent: sent[i],
        ackInterval: ACK_INTERVAL,
        hold: options.hold,
        batchIntervalMs: options.batchIntervalMs,
        progress: options.progress?.[i],
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? sent.length, sent.length) }, lane));
  return results;
}

/**
 * The statuses /health reported, each change once, polled every 50 ms from now
 * until the test ends; `until` waits for health to change to a status.
 * Resolves once the first reading is in: a fault injected before it could
 * otherwise make that reading its own result, and the change would never be seen.
 */
export async function healthTimeline(
  t: TestContext,
  service: TopologyService,
): Promise<{ seen: string[]; until(status: string, what: string): Promise<void> }> {
  const seen: string[] = [];
  let stopped = false;
  const read = async (): Promise<void> => {
    const status = await service.health().catch(() => 'unreachable');
    if (seen.at(-1) !== status) seen.push(status);
  };
  await read();
  const poll = async (): Promise<void> => {
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await read();
    }
  };
  const running = poll();
  t.after(async () => {
    stopped = true;
    await running;
  });
  return {
    seen,
    until: async (status, what) => {
      // A status health changed to: the first reading is where it started.
      await pollUntil(async () => (seen.slice(1).includes(status) ? true : undefined), what, 90_000, 50).catch(
        (err: Error) => {
          throw new Error(`${err.message}; health went ${seen.join(' → ')}`, { cause: err });
        },
      );
    },
  };
}

/**
 * Asserts that the records of `sent` cover every frame byte-exact (repeats
 * allowed: at least once) and returns how many frames were stored more than once.
 */
export function repeatedFrames(records: FieldMap[], sent: SentStream): number {
  const last = sent.firstSeq + sent.frames.length - 1;
  assertResumedAudioCovers(records, sent, last);
  let stored = 0;
  for (const fields of records) {
    if (field(fields, 'type') === 'audio') stored += Number(field(fields, 'frames'));
  }
  assert.ok(stored >= sent.frames.length);
  return stored - sent.frames.length;
}
