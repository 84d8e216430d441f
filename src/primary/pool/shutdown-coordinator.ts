/**
 * The coordinated shutdown (SIGTERM, SIGINT, or a start-up failure no restart
 * fixes): the pool stops replacing workers, the workers hear the cluster is
 * draining, then each flushes, publishes every stream and exits; one still
 * running past SHUTDOWN_TIMEOUT_MS plus a grace is killed. The exit code says
 * whether everything buffered was published. A second request is ignored.
 */
import type { Logger } from 'pino';
import { EXIT } from '../../shared/process/exit-codes';
import { message } from '../../shared/process/ipc';
import { KILL_GRACE_MS, type WorkerPool } from './worker-pool';
import type { WorkerRecord } from './worker-record';
import { SERVER_CLOSE } from '../../shared/protocol';

export interface ShutdownOutcome {
  readonly clean: boolean;
  readonly lostStreams: number;
  readonly lostBytes: number;
  readonly killed: number;
  /** Workers were failing at start-up (none became ready since the last such failure). */
  readonly startFailing: boolean;
}

export interface ShutdownParts {
  readonly pool: Pick<WorkerPool, 'all' | 'close' | 'config' | 'startFailing'>;
  /** The cluster view: refreshed so the workers see the drain, closed once they are gone. */
  readonly view: { refresh(): void; close(): void };
  /** Closed after the workers, so /metrics and /health answer during the shutdown. */
  readonly servers: ReadonlyArray<{ close(): Promise<void> }>;
  readonly logger: Logger;
  /** Ends the process: process.exit, or a fake in tests. */
  readonly exit: (code: number) => void;
}

export class ShutdownCoordinator {
  private stopping: Promise<void> | undefined;

  constructor(private readonly parts: ShutdownParts) {}

  get started(): boolean {
    return this.stopping !== undefined;
  }

  /** Shuts down and exits with `code`, or with a worse one if the shutdown lost data. Runs once. */
  stop(code: number, why: string): Promise<void> {
    if (this.stopping) {
      this.parts.logger.info({ signal: why }, 'already shutting down: ignored');
      return this.stopping;
    }
    this.stopping = this.run(code, why);
    return this.stopping;
  }

  private async run(code: number, why: string): Promise<void> {
    const { logger, servers } = this.parts;
    logger.info({ reason: why }, 'stopping');
    const outcome = await this.stopWorkers();
    await Promise.all(servers.map((s) => s.close()));
    const final = this.exitCode(code, outcome);
    logger.flush();
    this.parts.exit(final);
  }

  private exitCode(code: number, outcome: ShutdownOutcome): number {
    const { logger } = this.parts;
    if (code !== EXIT.ok) return code;
    if (!outcome.clean) {
      logger.error(
        { lost_streams: outcome.lostStreams, lost_bytes: outcome.lostBytes, killed_workers: outcome.killed },
        'shutdown incomplete: data was left unpublished',
      );
      return EXIT.dataLost;
    }
    if (outcome.startFailing) {
      // Nothing was lost, but the service was not working: never exit 0 after a crash loop.
      logger.error('stopped while workers were failing at start-up');
      return EXIT.failed;
    }
    logger.info('shutdown complete: everything buffered was published');
    return EXIT.ok;
  }

  /** Every worker flushes and publishes, then exits; those past the deadline are killed. */
  private async stopWorkers(): Promise<ShutdownOutcome> {
    const { pool, view, logger } = this.parts;
    pool.close();
    view.refresh();
    const records = pool.all();
    logger.info({ workers: records.length }, 'shutting down: workers flush and publish every stream');
    for (const r of records)
      r.worker.send(
        message({ type: 'shutdown', closeCode: SERVER_CLOSE.shutdown.code, reason: SERVER_CLOSE.shutdown.reason }),
      );
    let killed = 0;
    const killTimer = setTimeout(() => {
      for (const r of records) {
        if (r.worker.isDead()) continue;
        killed++;
        r.worker.kill();
      }
    }, pool.config.shutdownTimeoutMs + KILL_GRACE_MS);
    await Promise.all(records.map((r) => r.exited));
    clearTimeout(killTimer);
    view.close();
    return outcome(records, killed, pool.startFailing);
  }
}

function outcome(records: readonly WorkerRecord[], killed: number, startFailing: boolean): ShutdownOutcome {
  const lostBytes = records.reduce((sum, r) => sum + r.lostBytes, 0);
  const lostStreams = records.reduce((sum, r) => sum + r.lostStreams, 0);
  // A worker that never became ready and failed at start-up took no stream: it lost nothing.
  const codes = records
    .filter((r) => r.ready || r.worker.exitCode !== EXIT.startupFailed)
    .map((r) => r.worker.exitCode);
  const clean = killed === 0 && lostBytes === 0 && lostStreams === 0 && codes.every((c) => c === EXIT.ok);
  return { clean, lostBytes, lostStreams, killed, startFailing };
}
