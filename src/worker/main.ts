/**
 * Worker entry point (forked by the primary). Builds the publisher and the
 * server from the configuration the primary validated, reports readiness or a
 * start-up failure over IPC, and runs the one shutdown sequence:
 * stop accepting → flush and publish every stream → close sockets → close the
 * publisher → exit; all under one deadline (SHUTDOWN_TIMEOUT_MS).
 *
 * Exit codes: 0 clean, 1 crash, 69 start-up failure, 70 data left unpublished.
 */
import cluster from 'node:cluster';
import { configFromJson, loadConfig } from '../shared/config';
import type { Config } from '../shared/config-schema';
import { IngestError } from '../shared/errors';
import { isPrimaryToWorker, message, type WorkerToPrimary } from '../shared/ipc';
import { createLogger } from '../shared/logger';
import { createPublisher } from '../shared/publisher-factory';
import { parsePublicKeys } from '../shared/public-keys';
import { IngestServer } from './ingest-server';
import { TokenVerifier } from './token-verifier';
import { WorkerStats } from './worker-stats';

export const CONFIG_ENV = 'INGEST_CONFIG';
export const EXIT_STARTUP_FAILED = 69;
export const EXIT_DATA_LOST = 70;

function readConfig(): Readonly<Config> {
  const json = process.env[CONFIG_ENV];
  if (json) return configFromJson(json);
  const result = loadConfig();
  if (!result.ok) throw new IngestError('config_invalid', result.problems.map((p) => `${p.variable}: ${p.expected}`).join('; '));
  return result.config;
}

function send(body: WorkerToPrimary): void {
  if (process.send && process.connected) process.send(body);
}

async function main(): Promise<void> {
  const config = readConfig();
  const workerId = cluster.worker?.id;
  const logger = createLogger({ level: config.logLevel, role: 'worker', ...(workerId !== undefined ? { workerId } : {}) });
  const stats = new WorkerStats();

  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: worker exits, the primary replaces it');
    logger.flush();
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    stats.unhandledRejections++;
    logger.error({ err: reason }, 'unhandled promise rejection');
  });

  const publisher = createPublisher(config, logger);
  const verifier = config.jwtPublicKey ? TokenVerifier.fromConfig(config, parsePublicKeys(config.jwtPublicKey)) : undefined;
  const server = new IngestServer({ config, publisher, verifier, logger, stats });
  publisher.onHealthChange((health) => send(message({ type: 'backend_health', health })));

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (closeCode = 1001, reason = 'server shutting down'): Promise<void> => {
    shuttingDown ??= runShutdown(server, publisher, config, logger, closeCode, reason);
    return shuttingDown;
  };
  process.on('message', (msg) => {
    if (isPrimaryToWorker(msg) && msg.type === 'shutdown') void shutdown(msg.closeCode, msg.reason);
  });
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  process.on('disconnect', () => void shutdown()); // the primary is gone

  try {
    await publisher.start();
    const port = await server.listen(config.port, config.host);
    send(message({ type: 'ready', port }));
    logger.info({ port, adapter: publisher.adapter }, 'worker ready');
  } catch (err) {
    const code = err instanceof IngestError ? err.code : 'worker_startup_failed';
    const text = err instanceof Error ? err.message : String(err);
    send(message({ type: 'startup_failed', code, message: text }));
    logger.error({ code }, `worker start-up failed: ${text}`);
    await publisher.close().catch(() => undefined);
    logger.flush();
    process.exit(EXIT_STARTUP_FAILED);
  }
}

async function runShutdown(
  server: IngestServer,
  publisher: ReturnType<typeof createPublisher>,
  config: Readonly<Config>,
  logger: ReturnType<typeof createLogger>,
  closeCode: number,
  reason: string,
): Promise<void> {
  logger.info({ streams: server.activeSessions, close_code: closeCode }, 'shutting down: publishing every buffered frame');
  let lost = { streams: 0, bytes: 0 };
  const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs).unref());
  const outcome = await Promise.race([server.close(closeCode, reason).then(() => 'done' as const), deadline]);
  if (outcome === 'timeout') {
    lost = server.abandon();
    logger.error({ lost_streams: lost.streams, lost_bytes: lost.bytes }, `shutdown deadline (${config.shutdownTimeoutMs} ms) passed: data left unpublished`);
  }
  await Promise.race([publisher.close(), new Promise((r) => setTimeout(r, 2000).unref())]).catch((err) => {
    logger.error({ err }, 'closing the publisher failed');
  });
  send(message({ type: 'shutdown_complete', lostStreams: lost.streams, lostBytes: lost.bytes }));
  logger.info({ lost_bytes: lost.bytes }, 'worker stopped');
  logger.flush();
  process.exit(lost.bytes > 0 || lost.streams > 0 ? EXIT_DATA_LOST : 0);
}

main().catch((err) => {
  // Before the logger exists (bad INGEST_CONFIG): one line to stderr.
  process.stderr.write(`worker failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  send(message({ type: 'startup_failed', code: err instanceof IngestError ? err.code : 'worker_startup_failed', message: String(err) }));
  process.exit(EXIT_STARTUP_FAILED);
});
