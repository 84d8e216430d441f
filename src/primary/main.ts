/**
 * Primary entry point (`npm start`). Validates the configuration once (every
 * problem at once, exit 78), makes sure the port is free, provides development
 * credentials outside production, forks the workers and owns the signals.
 *
 * Exit codes: 0 clean shutdown, everything published; 1 could not start (port
 * in use, a fatal worker start-up failure, or stopped while workers kept
 * failing at start-up); 70 shutdown left data unpublished; 78 bad configuration.
 */
import { Registry } from 'prom-client';
import { loadConfig } from '../shared/config/config';
import { errorMessage } from '../shared/errors';
import { formatConfigReport, problemLine } from '../shared/config/config-report';
import type { Config } from '../shared/config/config-schema';
import { toHealthBody } from '../shared/health/health-status';
import { EXIT } from '../shared/process/exit-codes';
import { createLogger, type Logger } from '../shared/process/logger';
import { reloadConfig } from './config-reload';
import { createDevCredentials, devClientCommand, needsDevCredentials } from './dev-credentials';
import { ClusterMetrics } from './metrics/cluster-metrics';
import { MetricsServer } from './metrics/metrics-server';
import { createPrimaryMetrics } from './metrics/primary-metrics';
import { isPortFree, listenAddresses } from './port-free';
import { ClusterLauncher } from './pool/cluster-launcher';
import { ClusterViewBroadcaster } from './pool/cluster-view-broadcaster';
import { RollingRestart } from './pool/rolling-restart';
import { ShutdownCoordinator } from './pool/shutdown-coordinator';
import { TenantSlots } from './pool/tenant-slots';
import { WorkerPool } from './pool/worker-pool';

// package.json sits outside rootDir's compiled tree: it is read at run time.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../../package.json') as { version: string };

/** The primary's parts, each wired to the others when it is built. */
interface Primary {
  readonly pool: WorkerPool;
  readonly view: ClusterViewBroadcaster;
  readonly metricsServer: MetricsServer;
  readonly roll: RollingRestart;
  readonly shutdown: ShutdownCoordinator;
}

/** Fails fast, with one clear line, when something already listens on the port. */
async function checkPortsFree(config: Readonly<Config>): Promise<boolean> {
  for (const [name, port, host] of listenAddresses(config)) {
    if (await isPortFree(port, host)) continue;
    process.stderr.write(
      `error: ${name} ${port} is already in use on ${host}; stop the other process or set ${name}\n`,
    );
    return false;
  }
  return true;
}

function withDevCredentials(config: Readonly<Config>, logger: Logger): Readonly<Config> {
  if (!needsDevCredentials(config)) return config;
  const dev = createDevCredentials({
    tenantClaim: config.jwtTenantClaim,
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  });
  logger.warn(
    'no JWT_PUBLIC_KEY configured: generated a development key pair; ' +
      'this is for development only, never for production',
  );
  logger.info(
    { dev_token: dev.token, expires_at: dev.expiresAt.toISOString() },
    'development token (valid for one hour)',
  );
  logger.info(`try it: ${devClientCommand({ port: config.port, token: dev.token, tls: Boolean(config.sslKeyPath) })}`);
  return Object.freeze({ ...config, jwtPublicKey: dev.publicKeyPem });
}

/** The validated configuration and the logger, or undefined when the primary must not start (exit code set). */
function loadStartupConfig(): { config: Readonly<Config>; logger: Logger } | undefined {
  const result = loadConfig(process.env);
  if (!result.ok) {
    process.stderr.write(
      formatConfigReport(result, { color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR }) + '\n',
    );
    process.exitCode = EXIT.configInvalid;
    return undefined;
  }
  const logger = createLogger({ level: result.config.logLevel, role: 'primary' });
  for (const warning of result.warnings) logger.warn(warning);
  const config = withDevCredentials(result.config, logger);
  if (!config.jwtPublicKey && !config.jwtJwksUrl && config.supportExotel) {
    logger.warn('no JWT key configured: the native endpoint is off; /v1/ingest serves Exotel streams only');
  }
  return { config, logger };
}

function buildPrimary(config: Readonly<Config>, logger: Logger): Primary {
  const pool = new WorkerPool(
    config,
    new ClusterLauncher(logger, {
      maxSemiSpaceMb: config.workerMaxSemiSpaceMb,
      heapGrowingPercent: config.workerHeapGrowingPercent,
    }),
    logger,
  );
  const view = new ClusterViewBroadcaster(pool, logger);
  const primaryMetrics = createPrimaryMetrics(
    version,
    () => pool.counts(),
    () => view.current().status,
  );
  const clusterMetrics = new ClusterMetrics(
    () => pool.workers(),
    primaryMetrics.registry,
    config.metricsScrapeTimeoutMs,
  );
  pool.on('restart', () => primaryMetrics.workerRestarts.inc());
  pool.on('metrics', (workerId, requestId, metrics) => clusterMetrics.onResponse(workerId, requestId, metrics));
  pool.on('exit', (record) => clusterMetrics.retire(record.worker.id));
  const tenantSlots = new TenantSlots(logger);
  pool.on('lease', (record, msg) => tenantSlots.serve(record.worker, msg));
  pool.on('exit', (record) => tenantSlots.releaseWorker(record.worker.id));
  const metricsServer = new MetricsServer(
    {
      metrics: () => clusterMetrics.scrape(),
      contentType: Registry.PROMETHEUS_CONTENT_TYPE,
      health: () => toHealthBody(view.current()),
    },
    logger,
  );
  const exit = (code: number): never => process.exit(code);
  const shutdown = new ShutdownCoordinator({ pool, view, servers: [metricsServer], logger, exit });
  // Restarting cannot fix these: stop, with 1 for a taken port and 78 for configuration (docs/architecture.md).
  pool.on('fatal', (code, text) => {
    process.stderr.write(`error: ${text}\n`);
    void shutdown.stop(code === 'port_in_use' ? EXIT.failed : EXIT.configInvalid, code);
  });
  return { pool, view, metricsServer, roll: new RollingRestart(pool, logger), shutdown };
}

/** SIGHUP, SIGUSR2: re-read the configuration, then replace the workers one at a time. */
function rollingRestart({ pool, roll, shutdown }: Primary, logger: Logger, signal: string): void {
  if (shutdown.started) return;
  logger.info({ signal }, 'rolling restart requested: re-reading the configuration');
  const reload = reloadConfig(pool.config, process.env);
  if (!reload.ok) {
    logger.error(
      { problems: reload.problems.map(problemLine) },
      'rolling restart refused: the configuration no longer validates; the workers keep running as they are',
    );
    return;
  }
  for (const warning of reload.warnings) logger.warn(warning);
  if (reload.kept.length > 0)
    logger.warn({ settings: reload.kept }, 'these settings change only with a full restart: kept as they were');
  if (reload.changed.length > 0)
    logger.info({ settings: reload.changed }, 'configuration changed: the new workers use it');
  pool.reconfigure(reload.config);
  void roll.request();
}

async function main(): Promise<void> {
  const startup = loadStartupConfig();
  if (!startup) return;
  const { config, logger } = startup;
  if (!(await checkPortsFree(config))) {
    process.exitCode = EXIT.failed;
    return;
  }
  const primary = buildPrimary(config, logger);
  process.on('SIGTERM', () => void primary.shutdown.stop(EXIT.ok, 'SIGTERM'));
  process.on('SIGINT', () => void primary.shutdown.stop(EXIT.ok, 'SIGINT'));
  process.on('SIGHUP', () => rollingRestart(primary, logger, 'SIGHUP'));
  process.on('SIGUSR2', () => rollingRestart(primary, logger, 'SIGUSR2'));

  const metricsPort = await primary.metricsServer.start(config.metricsPort, config.metricsHost);
  primary.pool.start();
  primary.view.start();
  logger.info(
    { workers: config.workers, port: config.port, metrics_port: metricsPort, adapter: config.pubsubAdapter },
    'primary started',
  );
  await primary.pool.whenAllReady();
  logger.info({ workers: config.workers, port: config.port }, 'all workers ready');
}

main().catch((err) => {
  process.stderr.write(`error: ${errorMessage(err)}\n`);
  process.exitCode = EXIT.failed;
});
