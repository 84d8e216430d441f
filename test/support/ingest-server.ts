/**
 * Starts a real worker server in-process on an ephemeral port, with a real
 * publisher (in_memory by default, or redis_streams on the local Redis), a
 * fresh key pair (and the key set of JWT_JWKS_URL when the test sets one; set
 * JWT_PUBLIC_KEY to '' for a key set alone), and a logger whose lines the
 * test can read.
 */
import type { TestContext } from 'node:test';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/shared/config/config';
import type { Config } from '../../src/shared/config/config-schema';
import { createLogger } from '../../src/shared/process/logger';
import { createPublisher } from '../../src/shared/publishing/publisher-factory';
import type { Publisher } from '../../src/shared/publishing/publisher';
import { IngestServer } from '../../src/worker/http/ingest-server';
import type { JwksKeySource } from '../../src/worker/admission/jwks-key-source';
import { createTenantStreamLeases } from '../../src/worker/admission/tenant-stream-leases';
import { createTokenVerification } from '../../src/worker/admission/token-verifier';
import { WorkerStats } from '../../src/worker/metrics/worker-stats';
import { IngestClient, type ConnectOptions } from '../../src/client/ingest-client';
import { makeKeyPair, signToken, type Claims, type TestKeyPair } from './tokens';

export interface TestServer {
  readonly config: Readonly<Config>;
  readonly server: IngestServer;
  readonly publisher: Publisher;
  /** The key set of JWT_JWKS_URL, when the test configured one. */
  readonly keySource: JwksKeySource | undefined;
  readonly port: number;
  readonly url: string;
  readonly keys: TestKeyPair;
  /** Every log line the server wrote, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** The raw log text (to prove a token never appears). */
  logText(): string;
  token(claims?: Claims): string;
  connect(options?: ConnectOptions & { claims?: Claims }): Promise<IngestClient>;
}

/** A config from env-style overrides, validated like the real one. */
export function testConfig(env: Record<string, string> = {}): Readonly<Config> {
  const result = loadConfig({ LOG_LEVEL: 'debug', ...env });
  if (!result.ok) throw new Error(`bad test config: ${JSON.stringify(result.problems)}`);
  return result.config;
}

export async function startTestServer(t: TestContext, env: Record<string, string> = {}): Promise<TestServer> {
  const keys = makeKeyPair('ec');
  const config = testConfig({ JWT_PUBLIC_KEY: keys.publicKeyPem, ...env });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l.length > 0),
      );
      cb();
    },
  });
  const logger = createLogger({ level: config.logLevel, role: 'worker', destination });
  const publisher = createPublisher(config, logger);
  await publisher.start();
  const stats = new WorkerStats();
  const { verifier, keySource } = createTokenVerification(config, { logger, stats });
  await keySource?.start();
  // No primary here: with MAX_STREAMS_PER_TENANT, a test names a Redis for the limits (LIMITS_REDIS_URL).
  const leases = createTenantStreamLeases(config, { stats, logger, sendToPrimary: () => false })?.leases;
  await leases?.start();
  const server = new IngestServer({
    config,
    publisher,
    verifier,
    keySet: keySource,
    logger,
    stats,
    ...(leases ? { leases } : {}),
  });
  const port = await server.listen(0, '127.0.0.1');
  t.after(async () => {
    await server.close();
    await leases?.close();
    keySource?.close();
    await publisher.close();
  });
  const url = `${config.sslKeyPath ? 'wss' : 'ws'}://127.0.0.1:${port}/v1/ingest`;
  const token = (claims: Claims = {}): string => signToken(keys.privateKey, claims);
  return {
    config,
    server,
    publisher,
    keySource,
    port,
    url,
    keys,
    get logs() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    logText: () => lines.join('\n'),
    token,
    connect: async (options = {}) => {
      const client = await IngestClient.connect(url, { token: token(options.claims), ...options });
      t.after(() => {
        if (!client.closeState) client.ws.terminate();
      });
      return client;
    },
  };
}

/** Distinct, recognisable bytes for frame `seq` of a stream. */
export function frameBytes(streamIndex: number, seq: number, size = 320): Buffer {
  const frame = Buffer.alloc(size);
  frame.writeUInt32LE(streamIndex, 0);
  frame.writeUInt32LE(seq, 4);
  for (let i = 8; i < size; i++) frame[i] = (streamIndex * 31 + seq * 7 + i) & 0xff;
  return frame;
}
