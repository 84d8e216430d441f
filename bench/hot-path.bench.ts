/**
 * `npm run bench`: server CPU time per frame on the hot path (binary frame →
 * buffer → maybe an ack), for the real service against a bare ws floor. The
 * load runs in this process; each server runs alone in a child process and
 * reports its own CPU time, so the client's work is not counted.
 *
 * The Redis variants publish to a redis-server of the benchmark's own (on a
 * free port, nothing else on it), whose CPU time per frame is reported too:
 * that is where the deduplicating script (redis_streams, the default) costs
 * more than a plain XADD (redis_xadd, REDIS_DEDUPLICATE=false).
 *
 * Environment: BENCH_STREAMS (50), BENCH_FRAMES (2000), BENCH_FRAME_BYTES (320),
 * BENCH_ROUNDS (3), BENCH_VARIANTS (floor,in_memory,redis_xadd,redis_streams).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import Redis from 'ioredis';
import { IngestClient } from '../src/client/ingest-client';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 50);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 2000);
const FRAME_BYTES = Number(process.env.BENCH_FRAME_BYTES ?? 320);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'floor,in_memory,redis_xadd,redis_streams').split(',');

/** A server CPU figure: the Node server's, and Redis's for the Redis variants. */
interface Sample {
  readonly server: number;
  readonly redis: number;
}

function request<T>(child: ChildProcess, type: string, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (msg: { type: string }): void => {
      if (msg.type !== reply) return;
      child.off('message', onMessage);
      resolve(msg as T);
    };
    child.on('message', onMessage);
    child.send({ type });
  });
}

async function runLoad(port: number, token: string): Promise<void> {
  const frame = Buffer.alloc(FRAME_BYTES, 7);
  // New interactions every run: the script would otherwise find every frame stored already.
  const run = randomUUID();
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      const client = await IngestClient.connect(`ws://127.0.0.1:${port}/v1/ingest`, { token });
      await client.start({ interactionId: `bench-${run}-${i}` });
      // Bursts of 100 frames, each waiting for its last ack: keeps the socket
      // busy without letting the client race unboundedly ahead of the server.
      for (let sent = 0; sent < FRAMES;) {
        const burst = Math.min(100, FRAMES - sent);
        for (let k = 0; k < burst; k++) client.sendFrame(frame);
        sent += burst;
        const want = sent - (sent % 10);
        if (want > 0) await client.waitForMessage((m) => m.type === 'ack' && m.seq === want);
      }
      await client.stop();
    }),
  );
}

/** Redis's own CPU time so far, in microseconds (INFO cpu). */
async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const seconds = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6;
}

async function measure(
  variant: string,
  publicKeyPem: string,
  token: string,
  streamKey: string,
  redis: Redis | undefined,
): Promise<Sample> {
  const child = fork(path.join(__dirname, 'bench-server.js'), [], {
    env: {
      ...process.env,
      BENCH_VARIANT: variant,
      BENCH_PUBLIC_KEY: publicKeyPem,
      BENCH_STREAM_KEY: streamKey,
      BENCH_REDIS_URL: redis ? `redis://127.0.0.1:${redis.options.port}` : '',
    },
  });
  const ready = await new Promise<{ port: number }>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m)),
  );
  await runLoad(ready.port, token); // warm-up: JIT, connections, Redis pipeline, the script loaded
  const usesRedis = redis !== undefined && variant.startsWith('redis');
  const redisBefore = usesRedis ? await redisCpuMicros(redis) : 0;
  await request(child, 'begin', 'begun');
  await runLoad(ready.port, token);
  const { micros } = await request<{ micros: number }>(child, 'end', 'cpu');
  const redisMicros = usesRedis ? (await redisCpuMicros(redis)) - redisBefore : 0;
  child.send({ type: 'exit' });
  await new Promise((r) => child.once('exit', r));
  if (usesRedis) await redis.del(streamKey); // each run starts from an empty stream
  return { server: micros / (STREAMS * FRAMES), redis: redisMicros / (STREAMS * FRAMES) };
}

/** A redis-server of the benchmark's own, so that nothing else's load is counted as Redis's CPU. */
async function startRedis(): Promise<{ redis: Redis; stop: () => Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const redis = new Redis({ host: '127.0.0.1', port, retryStrategy: (attempt) => (attempt > 50 ? null : 100) });
  redis.on('error', () => undefined); // refused while redis-server starts: the retries handle it
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  return {
    redis,
    stop: async () => {
      await redis.quit();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const token = jwt.sign({ tenant_id: 'bench' }, privateKey, { algorithm: 'ES256', expiresIn: '1h' });
  const streamKey = `ingest-bench:${randomUUID()}`;
  console.log(
    `hot path: ${STREAMS} streams x ${FRAMES} frames of ${FRAME_BYTES} ` +
      `bytes, ${ROUNDS} rounds, median server CPU per frame`,
  );
  const backend = VARIANTS.some((v) => v.startsWith('redis')) ? await startRedis() : undefined;
  const results = new Map<string, Sample>();
  try {
    for (const variant of VARIANTS) {
      const samples: Sample[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        samples.push(await measure(variant, publicKeyPem, token, streamKey, backend?.redis));
      }
      results.set(variant, {
        server: median(samples.map((s) => s.server)),
        redis: median(samples.map((s) => s.redis)),
      });
    }
  } finally {
    await backend?.stop();
  }
  const floor = results.get('floor')?.server;
  for (const [variant, { server, redis }] of results) {
    const ratio = floor ? ` (${(server / floor).toFixed(2)}x floor)` : '';
    const inRedis = variant.startsWith('redis') ? `, redis-server ${redis.toFixed(2)} us/frame` : '';
    console.log(`${variant.padEnd(14)} ${server.toFixed(2)} us/frame${ratio}${inRedis}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
