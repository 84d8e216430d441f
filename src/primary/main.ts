/**
 * Primary entry point (`npm start`). Validates the configuration once (every
 * problem at once, exit 78), makes sure the port is free, provides development
 * credentials outside production, forks the workers and owns the signals.
 *
 * Exit codes: 0 clean shutdown, everything published; 1 could not start (port
 * in use, a fatal worker start-up failure, or stopped while workers kept
 * failing at start-up); 70 shutdown left data unpublished; 78 bad configuration.
 */
import net from 'node:net';
import { loadConfig } from '../shared/config/config';
import { formatConfigReport, problemLine } from '../shared/config/config-report';
import type { Config } from '../shared/config/config-schema';
import { createLogger, type Logger } from '../shared/process/logger';
import { Registry } from 'prom-client';
import { ClusterMetrics } from './metrics/cluster-metrics';
import { reloadConfig } from './config-reload';
import { toHealthBody } from '../shared/health/health-status';
import { createDevCredentials, devClientCommand, needsDevCredentials } from './dev-credentials';
import { EXIT } from '../shared/process/exit-codes';
import { MetricsServer } from './metrics/metrics-server';
import { createPrimaryMetrics } from './metrics/primary-metrics';
import { RollingRestart } from './pool/rolling-restart';
import { Supervisor } from './pool/supervisor';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- package.json sits outside rootDir's compiled tree; read it at run time
const { version } = require('../../../package.json') as { version: string };

/** Fails fast, with one clear line, when something already listens on the port. */
function checkPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'EADDRINUSE'));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

function withDevCredentials(config: Readonly<Config>, logger: Logger): Readonly<Config> {
  if (!needsDevCredentials(config)) return config;
  const dev = createDevCredentials({
    tenantClaim: config.jwtTenantClaim,
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  });
  logger.warn(
    'no JWT_PUBLIC_KEY configured: generated a development key pair; this is for development only, never for production',
  );
  logger.info(
    { dev_token: dev.token, expires_at: dev.expiresAt.toISOString() },
    'development token (valid for one hour)',
  );
  logger.info(`try it: ${devClientCommand({ port: config.port, token: dev.token, tls: Boolean(config.sslKeyPath) })}`);
  return Object.freeze({ ...config, jwtPublicKey: dev.publicKeyPem });
}

async function main(): Promise<void> {
  const result = loadConfig(process.env);
  if (!result.ok) {
    process.stderr.write(
      formatConfigReport(result, { color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR }) + '\n',
    );
    process.exitCode = EXIT.configInvalid;
    return;
  }
  const logger = createLogger({ level: result.config.logLevel, role: 'primary' });
  for (const warning of result.warnings) logger.warn(warning);
  const config = withDevCredentials(result.config, logger);
  if (!config.jwtPublicKey && config.supportExotel) {
    logger.warn('no JWT key configured: the native endpoint is off; /v1/ingest serves Exotel streams only');
  }

  for (const [name, port] of [
    ['PORT', config.port],
    ['METRICS_PORT', config.metricsPort],
  ] as const) {
    const host = name === 'PORT' ? config.host : config.metricsHost;
    if (!(await checkPortFree(port, host))) {
      process.stderr.write(
        `error: ${name} ${port} is already in use on ${host}; stop the other process or set ${name}\n`,
      );
      process.exitCode = EXIT.failed;
      return;
    }
  }

  let stop: (code: number, why: string) => Promise<void> = async () => undefined;
  const primaryMetrics = createPrimaryMetrics(version, () => supervisor.counts());
  const supervisor = new Supervisor(config, logger, {
    onFatal: (code, text) => {
      process.stderr.write(`error: ${text}\n`);
      void stop(code === 'port_in_use' ? EXIT.failed : EXIT.configInvalid, code);
    },
    onRestart: () => primaryMetrics.workerRestarts.inc(),
  });
  const clusterMetrics = new ClusterMetrics(
    () => supervisor.workers(),
    primaryMetrics.registry,
    config.metricsScrapeTimeoutMs,
  );
  supervisor.metrics = clusterMetrics;
  const metricsServer = new MetricsServer(
    {
      metrics: () => clusterMetrics.scrape(),
      contentType: Registry.PROMETHEUS_CONTENT_TYPE,
      health: () => toHealthBody(supervisor.currentView()),
    },
    logger,
  );
  const roll = new RollingRestart(supervisor, logger);

  let exiting = false;
  stop = async (code: number, why: string): Promise<void> => {
    if (exiting) {
      logger.info({ signal: why }, 'already shutting down: ignored');
      return;
    }
    exiting = true;
    logger.info({ reason: why }, 'stopping');
    const outcome = await supervisor.shutdown();
    await metricsServer.close();
    if (!outcome.clean && code === EXIT.ok) {
      logger.error(
        { lost_streams: outcome.lostStreams, lost_bytes: outcome.lostBytes, killed_workers: outcome.killed },
        'shutdown incomplete: data was left unpublished',
      );
      code = EXIT.dataLost;
    } else if (code === EXIT.ok && outcome.startFailing) {
      // Nothing was lost, but the service was not working: never exit 0 after a crash loop.
      logger.error('stopped while workers were failing at start-up');
      code = EXIT.failed;
    } else if (code === EXIT.ok) {
      logger.info('shutdown complete: everything buffered was published');
    }
    logger.flush();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(EXIT.ok, 'SIGTERM'));
  process.on('SIGINT', () => void stop(EXIT.ok, 'SIGINT'));
  const onRollSignal = (signal: string): void => {
    if (exiting) return;
    logger.info({ signal }, 'rolling restart requested: re-reading the configuration');
    const reload = reloadConfig(supervisor.config, process.env);
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
    supervisor.reconfigure(reload.config);
    void roll.request();
  };
  process.on('SIGHUP', () => onRollSignal('SIGHUP'));
  process.on('SIGUSR2', () => onRollSignal('SIGUSR2'));

  const metricsPort = await metricsServer.listen(config.metricsPort, config.metricsHost);
  supervisor.start();
  logger.info(
    { workers: config.workers, port: config.port, metrics_port: metricsPort, adapter: config.pubsubAdapter },
    'primary started',
  );
  await supervisor.whenAllReady();
  logger.info({ workers: config.workers, port: config.port }, 'all workers ready');
}

main().catch((err) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = EXIT.failed;
});
