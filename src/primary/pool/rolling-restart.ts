/**
 * Zero-downtime rolling restart (SIGHUP, SIGUSR2): one worker at a time, fork
 * the replacement, wait until it listens and is ready, then drain the old one
 * (it stops taking streams at once, lets them run on for DRAIN_TIMEOUT_MS,
 * then flushes and closes the rest with 1012). A request during a roll is
 * queued (one at most) and runs when the roll ends; a shutdown stops the roll.
 */
import type { Logger } from 'pino';
import type { WorkerPool } from './worker-pool';

export type RollablePool = Pick<WorkerPool, 'activeRecords' | 'draining' | 'forkAndWaitReady' | 'refill' | 'retire'>;

export class RollingRestart {
  private running: Promise<void> | undefined;
  private queued = false;

  constructor(
    private readonly pool: RollablePool,
    private readonly logger: Logger,
  ) {}

  get inProgress(): boolean {
    return this.running !== undefined;
  }

  /** Starts a roll, or queues one if a roll is running. Returns the running roll. */
  request(): Promise<void> {
    if (this.running) {
      if (!this.queued) this.logger.info('rolling restart in progress: one more queued to run after it');
      this.queued = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.queued && !this.pool.draining) {
        this.queued = false;
        void this.request();
      }
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const old = this.pool.activeRecords();
    this.logger.info({ workers: old.length }, 'rolling restart: replacing workers one at a time');
    for (const record of old) {
      if (this.pool.draining) return;
      if (record.worker.isDead()) {
        this.pool.refill();
        continue;
      }
      let replacement;
      try {
        replacement = await this.pool.forkAndWaitReady();
      } catch (err) {
        this.logger.error(
          { err: (err as Error).message },
          'rolling restart stopped: a replacement worker failed to start; the old workers keep serving',
        );
        return;
      }
      if (this.pool.draining) return;
      this.logger.info(
        { old_worker: record.worker.id, new_worker: replacement.worker.id },
        'replacement ready: draining the old worker',
      );
      await this.pool.retire(record);
      this.pool.refill();
    }
    this.logger.info('rolling restart complete');
  }
}
