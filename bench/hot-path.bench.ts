/**
 * `npm run bench`: server CPU time per frame on the hot path (binary frame →
 * buffer → maybe an ack), for the real service against a bare ws floor. The
 * load runs in this process; each server runs alone in a child process and
 * reports its own CPU time, so the client's work is not counted.
 *
 * Environment: BENCH_STREAMS (50), BENCH_FRAMES (2000), BENCH_FRAME_BYTES (320),
 * BENCH_ROUNDS (3), BENCH_VARIANTS (floor,in_memory,redis_streams).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import Redis from 'ioredis';
import { IngestClient } from '../src/client/ingest-client';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 50);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 2000);
const FRAME_BYTES = Number(process.env.BENCH_FRAME_BYTES ?? 320);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'floor,in_memory,redis_streams').split(',');

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
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      const client = await IngestClient.connect(`ws://127.0.0.1:${port}/v1/ingest`, { token });
      await client.start({ interactionId: `bench-${i}` });
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

async function measure(variant: string, publicKeyPem: string, token: string, streamKey: string): Promise<number> {
  const child = fork(path.join(__dirname, 'bench-server.js'), [], {
    env: { ...process.env, BENCH_VARIANT: variant, BENCH_PUBLIC_KEY: publicKeyPem, BENCH_STREAM_KEY: streamKey },
  });
  const ready = await new Promise<{ port: number }>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m)),
  );
  await runLoad(ready.port, token); // warm-up: JIT, connections, Redis pipeline
  await request(child, 'begin', 'begun');
  await runLoad(ready.port, token);
  const { micros } = await request<{ micros: number }>(child, 'end', 'cpu');
  child.send({ type: 'exit' });
  await new Promise((r) => child.once('exit', r));
  return micros / (STREAMS * FRAMES);
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
  const results = new Map<string, number>();
  for (const variant of VARIANTS) {
    const samples: number[] = [];
    for (let r = 0; r < ROUNDS; r++) samples.push(await measure(variant, publicKeyPem, token, streamKey));
    results.set(variant, median(samples));
  }
  const floor = results.get('floor');
  for (const [variant, perFrame] of results) {
    const ratio = floor ? ` (${(perFrame / floor).toFixed(2)}x floor)` : '';
    console.log(`${variant.padEnd(14)} ${perFrame.toFixed(2)} us/frame${ratio}`);
  }
  if (VARIANTS.includes('redis_streams')) {
    const redis = new Redis('redis://127.0.0.1:6379');
    await redis.del(streamKey);
    await redis.quit();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
