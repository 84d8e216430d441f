/**
 * The primary's cluster supervisor: forks WORKERS workers sharing PORT,
 * replaces one that dies (with exponential backoff when they keep dying, so a
 * crash loop never spins the CPU), and runs the coordinated shutdown. It
 * handles no requests itself.
 */
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../shared/config-schema';
import { configToJson } from '../shared/config';
import { isWorkerToPrimary, message, type WorkerToPrimary } from '../shared/ipc';

export const WORKER_CONFIG_ENV = 'INGEST_CONFIG';
/** A worker that lived this long resets the crash backoff. */
const STABLE_AFTER_MS = 10_000;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 30_000;
/** Grace after SHUTDOWN_TIMEOUT_MS for workers to report and exit before they are killed. */
const KILL_GRACE_MS = 3_000;

export interface ShutdownOutcome {
  readonly clean: boolean;
  readonly lostStreams: number;
  readonly lostBytes: number;
  readonly killed: number;
}

interface WorkerRecord {
  readonly worker: Worker;
  readonly startedAt: number;
  ready: boolean;
  lostBytes: number;
  lostStreams: number;
}

export class Supervisor {
  private readonly workers = new Map<number, WorkerRecord>();
  private consecutiveFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<ShutdownOutcome> | undefined;
  /** Set when a worker's start-up failure is one no restart can fix (port in use). */
  onFatal: ((code: string, text: string) => void) | undefined;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly logger: Logger,
  ) {}

  get expected(): number {
    return this.config.workers;
  }

  get alive(): number {
    return this.workers.size;
  }

  start(): void {
    cluster.setupPrimary({ exec: path.join(__dirname, '..', 'worker', 'main.js') });
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    for (let i = 0; i < this.config.workers; i++) this.fork();
  }

  /** Resolves once every worker has reported ready (used by tests and logs). */
  whenAllReady(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.readyCount() >= this.config.workers) {
          cluster.off('message', onMessage);
          resolve();
        }
      };
      const onMessage = (): void => {
        setImmediate(check);
      };
      cluster.on('message', onMessage);
      check();
    });
  }

  /** Coordinated shutdown: every worker flushes and publishes, then exits. Idempotent. */
  shutdown(): Promise<ShutdownOutcome> {
    this.stopping ??= this.runShutdown();
    return this.stopping;
  }

  private readyCount(): number {
    let n = 0;
    for (const record of this.workers.values()) if (record.ready) n++;
    return n;
  }

  private fork(): void {
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: configToJson(this.config) });
    const record: WorkerRecord = { worker, startedAt: Date.now(), ready: false, lostBytes: 0, lostStreams: 0 };
    this.workers.set(worker.id, record);
    worker.on('message', (msg: unknown) => {
      if (isWorkerToPrimary(msg)) this.onWorkerMessage(record, msg);
    });
  }

  private onWorkerMessage(record: WorkerRecord, msg: WorkerToPrimary): void {
    switch (msg.type) {
      case 'ready':
        record.ready = true;
        this.logger.info({ worker_id: record.worker.id, pid: record.worker.process.pid }, 'worker ready');
        return;
      case 'startup_failed':
        this.logger.error({ worker_id: record.worker.id, code: msg.code }, `worker start-up failed: ${msg.message}`);
        if (msg.code === 'port_in_use' || msg.code === 'config_invalid') this.onFatal?.(msg.code, msg.message);
        return;
      case 'shutdown_complete':
        record.lostBytes = msg.lostBytes;
        record.lostStreams = msg.lostStreams;
        return;
      case 'backend_health':
        this.logger.debug({ worker_id: record.worker.id, backend: msg.health.state }, 'worker backend health changed');
        return;
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const record = this.workers.get(worker.id);
    this.workers.delete(worker.id);
    if (this.stopping) return;
    const livedMs = record ? Date.now() - record.startedAt : 0;
    this.consecutiveFailures = livedMs >= STABLE_AFTER_MS ? 1 : this.consecutiveFailures + 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.consecutiveFailures - 1)) - BACKOFF_BASE_MS;
    this.logger.error({ worker_id: worker.id, exit_code: code, signal, lived_ms: livedMs, restart_in_ms: delay }, 'worker exited unexpectedly: replacing it');
    if (delay <= 0) return this.fork();
    if (this.restartTimer) return; // one pending restart refills every missing slot
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      while (this.workers.size < this.config.workers) this.fork();
    }, delay);
  }

  private async runShutdown(): Promise<ShutdownOutcome> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const records = [...this.workers.values()];
    this.logger.info({ workers: records.length }, 'shutting down: workers flush and publish every stream');
    const exits = records.map((r) => new Promise<number | null>((resolve) => {
      if (r.worker.isDead()) return resolve(r.worker.process.exitCode);
      r.worker.once('exit', (code) => resolve(code));
    }));
    for (const r of records) {
      if (r.worker.isConnected()) r.worker.send(message({ type: 'shutdown', closeCode: 1001, reason: 'server shutting down' }));
    }
    let killed = 0;
    const killTimer = setTimeout(() => {
      for (const r of records) {
        if (!r.worker.isDead()) {
          killed++;
          r.worker.process.kill('SIGKILL');
        }
      }
    }, this.config.shutdownTimeoutMs + KILL_GRACE_MS);
    const codes = await Promise.all(exits);
    clearTimeout(killTimer);
    const lostBytes = records.reduce((sum, r) => sum + r.lostBytes, 0);
    const lostStreams = records.reduce((sum, r) => sum + r.lostStreams, 0);
    const clean = killed === 0 && lostBytes === 0 && lostStreams === 0 && codes.every((c) => c === 0);
    return { clean, lostBytes, lostStreams, killed };
  }
}
