/**
 * The server side of the hot-path benchmark, run in its own process so its CPU
 * time is measured alone. Variants:
 *   floor          a bare ws server doing only what the contract needs at minimum:
 *                  JWT auth at upgrade, start → started, an ack every 10 frames, stop
 *   in_memory      the real IngestServer with the in_memory publisher
 *   redis_xadd     the real IngestServer publishing to Redis with plain XADD (REDIS_DEDUPLICATE=false)
 *   redis_streams  the same through the deduplicating script (the default)
 * The Redis variants publish to BENCH_REDIS_URL (default the local Redis).
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../src/shared/config/config';
import { createLogger } from '../src/shared/process/logger';
import { createPublisher } from '../src/shared/publishing/publisher-factory';
import { parsePublicKeys } from '../src/shared/auth/public-keys';
import { IngestServer } from '../src/worker/http/ingest-server';
import { TokenVerifier } from '../src/worker/admission/token-verifier';

const variant = process.env.BENCH_VARIANT ?? 'floor';
const publicKeyPem = process.env.BENCH_PUBLIC_KEY ?? '';

function floorServer(): Promise<number> {
  const key = parsePublicKeys(publicKeyPem)[0];
  const server = http.createServer();
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    clientTracking: false,
    maxPayload: 65536,
  });
  server.on('upgrade', (req, socket, head) => {
    const auth = req.headers.authorization ?? '';
    try {
      jwt.verify(auth.slice(7), key, { algorithms: ['ES256'] });
    } catch {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      let seq = 0;
      ws.on('message', (data: Buffer, isBinary) => {
        if (isBinary) {
          seq++;
          if (seq % 10 === 0) ws.send(`{"type":"ack","seq":${seq}}`);
          return;
        }
        const msg = JSON.parse(data.toString()) as { type: string; interaction_id?: string };
        if (msg.type === 'start')
          ws.send(JSON.stringify({ type: 'started', stream_id: 'x', interaction_id: msg.interaction_id, next_seq: 1 }));
        if (msg.type === 'stop') {
          ws.send(JSON.stringify({ type: 'stopped', last_seq: seq, frames: seq }));
          ws.close(1000);
        }
      });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

async function ingestServer(): Promise<number> {
  const result = loadConfig({
    JWT_PUBLIC_KEY: publicKeyPem,
    PUBSUB_ADAPTER: variant.startsWith('redis') ? 'redis_streams' : variant,
    REDIS_URL: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    REDIS_DEDUPLICATE: String(variant !== 'redis_xadd'),
    REDIS_STREAM_KEY: process.env.BENCH_STREAM_KEY ?? 'ingest-bench:audio',
    LOG_LEVEL: 'warn',
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const config = result.config;
  const logger = createLogger({ level: 'warn', role: 'worker' });
  const publisher = createPublisher(config, logger);
  await publisher.start();
  const server = new IngestServer({
    config,
    publisher,
    verifier: TokenVerifier.fromConfig(config, parsePublicKeys(publicKeyPem)),
    logger,
  });
  return server.listen(0, '127.0.0.1');
}

async function main(): Promise<void> {
  const port = variant === 'floor' ? await floorServer() : await ingestServer();
  let base = process.cpuUsage();
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'begin') {
      base = process.cpuUsage();
      process.send!({ type: 'begun' });
    }
    if (msg.type === 'end') {
      const used = process.cpuUsage(base);
      process.send!({ type: 'cpu', micros: used.user + used.system });
    }
    if (msg.type === 'exit') process.exit(0);
  });
  process.send!({ type: 'ready', port });
}

void main();
