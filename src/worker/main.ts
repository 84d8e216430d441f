/**
 * Worker entry point (forked by the primary). Builds the publisher and the
 * server from the configuration the primary validated, reports readiness or a
 * start-up failure over IPC, and runs the one shutdown sequence:
 * stop accepting → flush and publish every stream → close sockets → stop the
 * key-set refreshes → close the publisher → exit; all under one deadline
 * (SHUTDOWN_TIMEOUT_MS).
 *
 * Exit codes: 0 clean, 1 crash, 69 start-up failure, 70 data left unpublished.
 */
import cluster from 'node:cluster';
import { loadConfig } from '../shared/config/config';
import { configFromJson, WORKER_CONFIG_ENV } from '../shared/config/config-handoff';
import { EXIT } from '../shared/process/exit-codes';
import type { Config } from '../shared/config/config-schema';
import { errorMessage, IngestError } from '../shared/errors';
import {
  isPrimaryToWorker,
  message,
  type ClusterView,
  type PrimaryToWorker,
  type WorkerToPrimary,
} from '../shared/process/ipc';
import { createLogger } from '../shared/process/logger';
import { createPublisher } from '../shared/publishing/publisher-factory';
import { IngestServer } from './http/ingest-server';
import { toHealthBody, type HealthBody } from '../shared/health/health-status';
import type { JwksKeySource } from './admission/jwks-key-source';
import { createTokenVerification } from './admission/token-verifier';
import { PrimaryLeaseStore } from './admission/primary-lease-store';
import { createTenantStreamLeases, type TenantStreamLeases } from './admission/tenant-stream-leases';
import { createWorkerMetrics } from './metrics/worker-metrics';
import { WorkerStats } from './metrics/worker-stats';
import { SERVER_CLOSE } from '../shared/protocol';

function readConfig(): Readonly<Config> {
  const json = process.env[WORKER_CONFIG_ENV];
  if (json) return configFromJson(json);
  const result = loadConfig();
  if (!result.ok)
    throw new IngestError('config_invalid', result.problems.map((p) => `${p.variable}: ${p.expected}`).join('; '));
  return result.config;
}

/** Sends to the primary; false when the channel is closed (the primary is gone). */
function send(body: WorkerToPrimary): boolean {
  if (!process.send || !process.connected) return false;
  process.send(body);
  return true;
}

/** Exits once `body` has left over IPC (an exit right after send() can drop it), or after a second at most. */
function reportAndExit(body: WorkerToPrimary, code: number): void {
  if (!process.send || !process.connected) process.exit(code);
  setTimeout(() => process.exit(code), 1000).unref();
  process.send(body, () => process.exit(code));
}

async function main(): Promise<void> {
  const config = readConfig();
  const workerId = cluster.worker?.id;
  const logger = createLogger({
    level: config.logLevel,
    role: 'worker',
    ...(workerId !== undefined ? { workerId } : {}),
  });
  const stats = new WorkerStats();

  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: worker exits, the primary replaces it');
    logger.flush();
    process.exit(EXIT.failed);
  });
  process.on('unhandledRejection', (reason) => {
    stats.unhandledRejections++;
    logger.error({ err: reason }, 'unhandled promise rejection');
  });

  const publisher = createPublisher(config, logger);
  const { verifier, keySource } = createTokenVerification(config, { logger, stats });
  const tenantLimit = createTenantStreamLeases(config, { stats, logger, sendToPrimary: send });
  const leases = tenantLimit?.leases;
  let clusterView: ClusterView | undefined;
  const healthView = (local: HealthBody): HealthBody => {
    // The primary's view covers every worker (this one's backend included);
    // only this worker's own drain overrides it.
    if (!clusterView) return local;
    const { workers } = clusterView;
    if (server.serverState !== 'ready') return toHealthBody({ status: local.status, pubsub: local.pubsub, workers });
    return toHealthBody({ status: clusterView.status, pubsub: clusterView.pubsub, workers });
  };
  const server = new IngestServer({
    config,
    publisher,
    verifier,
    keySet: keySource,
    logger,
    stats,
    healthView,
    ...(leases ? { leases } : {}),
  });
  const metrics = createWorkerMetrics({
    stats,
    backlogBytes: () => server.backlogBytes(),
    backlog: {
      get limitBytes() {
        return server.backlog.limitBytes;
      },
      get waitingStreams() {
        return server.backlog.waitingStreams;
      },
      get heldStreams() {
        return server.order.waiting;
      },
    },
    ...(keySource ? { keySet: keySource } : {}),
  });
  publisher.onHealthChange((health) => send(message({ type: 'backend_health', health })));

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (
    closeCode: number = SERVER_CLOSE.shutdown.code,
    reason: string = SERVER_CLOSE.shutdown.reason,
    drainTimeoutMs?: number,
  ): Promise<void> => {
    if (shuttingDown && drainTimeoutMs === undefined) server.cutDrainShort();
    shuttingDown ??= runShutdown(
      { server, publisher, keySource, leases, stats, config, logger },
      { closeCode, reason, drainTimeoutMs },
    );
    return shuttingDown;
  };
  const onPrimaryMessage = async (msg: PrimaryToWorker): Promise<void> => {
    switch (msg.type) {
      case 'shutdown':
        return shutdown(msg.closeCode, msg.reason);
      case 'drain':
        return shutdown(msg.closeCode, msg.reason, msg.drainTimeoutMs);
      case 'cluster_view':
        clusterView = msg.view;
        return;
      case 'lease_reply':
        if (tenantLimit?.store instanceof PrimaryLeaseStore) tenantLimit.store.onReply(msg);
        return;
      case 'metrics_request':
        send(
          message({ type: 'metrics_response', requestId: msg.requestId, metrics: await metrics.getMetricsAsJSON() }),
        );
        return;
    }
  };
  process.on('message', (msg) => {
    if (isPrimaryToWorker(msg))
      onPrimaryMessage(msg).catch((err) =>
        logger.error({ err, ipc: msg.type }, 'handling a message from the primary failed'),
      );
  });
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  process.on('disconnect', () => void shutdown()); // the primary is gone

  try {
    // The key set's first fetch is bounded by JWT_JWKS_TIMEOUT_MS and never fails the start: a worker
    // that cannot reach it serves the PEM keys and retries after the cooldown.
    // The lease store never fails the start either: until it answers, streams are admitted (fail open).
    await Promise.all([publisher.start(), keySource?.start(), leases?.start()]);
    const port = await server.listen(config.port, config.host);
    send(message({ type: 'ready', port }));
    logger.info({ port, adapter: publisher.adapter }, 'worker ready');
  } catch (err) {
    if (shuttingDown) return; // stopped while starting: the shutdown path exits
    const code = err instanceof IngestError ? err.code : 'worker_startup_failed';
    const text = errorMessage(err);
    logger.error({ code }, `worker start-up failed: ${text}`);
    keySource?.close();
    await leases?.close();
    await publisher.close().catch(() => undefined);
    logger.flush();
    reportAndExit(message({ type: 'startup_failed', code, message: text }), EXIT.startupFailed);
  }
}

interface ShutdownOptions {
  readonly closeCode: number;
  readonly reason: string;
  /** Rolling restart: stop listening now and let streams run on this long first. */
  readonly drainTimeoutMs: number | undefined;
}

/**
 * The one shutdown order: stop accepting → (rolling restart: let streams end
 * by themselves for DRAIN_TIMEOUT_MS) → flush and publish every stream, close
 * it → close the publisher → exit; all under SHUTDOWN_TIMEOUT_MS from the
 * moment the streams are told to close.
 */
/** What the shutdown stops, in its order. */
interface WorkerParts {
  readonly server: IngestServer;
  readonly publisher: ReturnType<typeof createPublisher>;
  readonly keySource: JwksKeySource | undefined;
  readonly leases: TenantStreamLeases | undefined;
  readonly stats: WorkerStats;
  readonly config: Readonly<Config>;
  readonly logger: ReturnType<typeof createLogger>;
}

async function runShutdown(parts: WorkerParts, options: ShutdownOptions): Promise<void> {
  const { server, publisher, keySource, leases, stats, config, logger } = parts;
  const draining = options.drainTimeoutMs !== undefined;
  logger.info(
    { streams: server.activeSessions, close_code: options.closeCode, drain_timeout_ms: options.drainTimeoutMs },
    draining ? 'draining for a rolling restart' : 'shutting down: publishing every buffered frame',
  );
  let lost = { streams: 0, bytes: 0 };
  const budget = config.shutdownTimeoutMs + (options.drainTimeoutMs ?? 0);
  const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), budget).unref());
  const closing = server.close(
    options.closeCode,
    options.reason,
    draining ? { stopListening: true, graceMs: options.drainTimeoutMs ?? 0 } : {},
  );
  const outcome = await Promise.race([closing.then(() => 'done' as const), deadline]);
  if (outcome === 'timeout') {
    lost = server.abandon();
    logger.error(
      { lost_streams: lost.streams, lost_bytes: lost.bytes },
      `shutdown deadline (${budget} ms) passed: data left unpublished`,
    );
  }
  // After the server: upgrades admitted during a drain's grace may still have needed a key.
  keySource?.close();
  // Every stream's lease went back as its socket closed; this gives back those of streams cut by the deadline.
  await leases?.close();
  await Promise.race([publisher.close(), new Promise((r) => setTimeout(r, 2000).unref())]).catch((err) => {
    logger.error({ err }, 'closing the publisher failed');
  });
  const lostBytes = lost.bytes + stats.bytesRejected;
  if (stats.bytesRejected > 0)
    logger.error(
      { rejected_bytes: stats.bytesRejected },
      "the backend refused data for good during this worker's life",
    );
  logger.info({ lost_bytes: lostBytes }, 'worker stopped');
  logger.flush();
  const code = lostBytes > 0 || lost.streams > 0 ? EXIT.dataLost : EXIT.ok;
  reportAndExit(message({ type: 'shutdown_complete', lostStreams: lost.streams, lostBytes }), code);
}

main().catch((err) => {
  // Building the worker failed (bad INGEST_CONFIG, unusable keys): one line to
  // stderr, as the logger may not exist yet, and the reason to the primary.
  const text = errorMessage(err);
  process.stderr.write(`worker failed to start: ${text}\n`);
  reportAndExit(
    message({
      type: 'startup_failed',
      code: err instanceof IngestError ? err.code : 'worker_startup_failed',
      message: text,
    }),
    EXIT.startupFailed,
  );
});
