/**
 * The primary's cluster supervisor: forks WORKERS workers sharing PORT,
 * replaces one that dies (with exponential backoff when they keep dying, so a
 * crash loop never spins the CPU), keeps the cluster's health and shares it
 * with the workers, rolls the workers one at a time (SIGHUP), and runs the
 * coordinated shutdown (SIGTERM). It handles no requests itself.
 */
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import type { Logger } from 'pino';
import type { BackendHealthSnapshot } from '../../shared/publishing/backend-health';
import type { Config } from '../../shared/config/config-schema';
import { configToJson, WORKER_CONFIG_ENV } from '../../shared/config/config-handoff';
import { EXIT } from '../../shared/process/exit-codes';
import {
  isWorkerToPrimary,
  message,
  type ClusterView,
  type PrimaryToWorker,
  type WorkerToPrimary,
} from '../../shared/process/ipc';
import { clusterView, sameView } from './cluster-health';
import type { ClusterMetrics } from '../metrics/cluster-metrics';

/** A worker that lived this long resets the crash backoff. */
const STABLE_AFTER_MS = 10_000;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 30_000;
/** Grace after the workers' own deadline for them to report and exit before they are killed. */
const KILL_GRACE_MS = 5_000;
/** Start-up failures no restart can fix: the primary stops instead of crash-looping. */
const FATAL_STARTUP_CODES: ReadonlySet<string> = new Set(['port_in_use', 'config_invalid', 'topic_missing']);
/** How often time-based health transitions (backend down too long) are re-evaluated. */
const HEALTH_TICK_MS = 1_000;

export interface ShutdownOutcome {
  readonly clean: boolean;
  readonly lostStreams: number;
  readonly lostBytes: number;
  readonly killed: number;
  /** Workers were failing at start-up (none became ready since the last such failure). */
  readonly startFailing: boolean;
}

export interface WorkerRecord {
  readonly worker: Worker;
  readonly startedAt: number;
  ready: boolean;
  /** Being replaced by a rolling restart: its exit is expected. */
  retiring: boolean;
  backend: BackendHealthSnapshot | undefined;
  lostBytes: number;
  lostStreams: number;
}

export interface SupervisorHooks {
  /** A start-up failure no restart can fix (port in use, bad config). */
  onFatal?: (code: string, text: string) => void;
  onRestart?: () => void;
}

export class Supervisor {
  private readonly records = new Map<number, WorkerRecord>();
  private consecutiveFailures = 0;
  private startFailing = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<ShutdownOutcome> | undefined;
  private view: ClusterView | undefined;
  private readonly readyListeners = new Set<(record: WorkerRecord) => void>();
  private readonly exitListeners = new Set<(record: WorkerRecord) => void>();
  metrics: ClusterMetrics | undefined;

  constructor(
    private currentConfig: Readonly<Config>,
    private readonly logger: Logger,
    private readonly hooks: SupervisorHooks = {},
  ) {}

  /** The configuration new workers get. */
  get config(): Readonly<Config> {
    return this.currentConfig;
  }

  /** New workers (replacements, the next rolling restart) start with `next`; running ones keep theirs. */
  reconfigure(next: Readonly<Config>): void {
    this.currentConfig = next;
  }

  get draining(): boolean {
    return this.stopping !== undefined;
  }

  workers(): Worker[] {
    return [...this.records.values()].map((r) => r.worker);
  }

  counts(): Record<'expected' | 'alive' | 'ready', number> {
    let ready = 0;
    for (const r of this.records.values()) if (r.ready && !r.retiring) ready++;
    return { expected: this.config.workers, alive: this.records.size, ready };
  }

  currentView(): ClusterView {
    return this.view ?? this.computeView();
  }

  start(): void {
    cluster.setupPrimary({ exec: path.join(__dirname, '..', '..', 'worker', 'main.js') });
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    for (let i = 0; i < this.config.workers; i++) this.fork();
    this.healthTimer = setInterval(() => this.refreshView(), HEALTH_TICK_MS);
    this.refreshView();
  }

  /** Resolves once as many workers as expected are ready. */
  whenAllReady(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.counts().ready < this.config.workers) return;
        this.readyListeners.delete(check);
        resolve();
      };
      this.readyListeners.add(check);
      check();
    });
  }

  /** Forks one worker; resolves with its record once it is ready, or rejects if it exits first. */
  forkAndWaitReady(): Promise<WorkerRecord> {
    const record = this.fork();
    return new Promise((resolve, reject) => {
      const onReady = (r: WorkerRecord): void => {
        if (r !== record) return;
        cleanup();
        resolve(r);
      };
      const onExit = (r: WorkerRecord): void => {
        if (r !== record) return;
        cleanup();
        reject(new Error(`replacement worker ${r.worker.id} exited before it was ready`));
      };
      const cleanup = (): void => {
        this.readyListeners.delete(onReady);
        this.exitListeners.delete(onExit);
      };
      this.readyListeners.add(onReady);
      this.exitListeners.add(onExit);
    });
  }

  /** Tells one worker to drain (rolling restart) and resolves when it has exited. */
  retire(record: WorkerRecord): Promise<void> {
    record.retiring = true;
    this.refreshView();
    const exited = this.whenExited(record);
    this.send(
      record,
      message({
        type: 'drain',
        closeCode: 1012,
        reason: 'service restart',
        drainTimeoutMs: this.config.drainTimeoutMs,
      }),
    );
    const killTimer = setTimeout(
      () => {
        if (!record.worker.isDead()) {
          this.logger.error({ worker_id: record.worker.id }, 'draining worker overran its deadline: killed');
          record.worker.process.kill('SIGKILL');
        }
      },
      this.config.drainTimeoutMs + this.config.shutdownTimeoutMs + KILL_GRACE_MS,
    );
    return exited.finally(() => clearTimeout(killTimer));
  }

  /**
   * Forks workers until WORKERS are serving or starting. A worker that died
   * while a roll had one extra running was not replaced (the count looked
   * full); the roll calls this after each step.
   */
  refill(): void {
    if (this.stopping) return;
    while (this.activeRecords().length < this.config.workers) this.fork();
  }

  /** Workers serving now (not already being replaced), oldest first. */
  activeRecords(): WorkerRecord[] {
    return [...this.records.values()].filter((r) => !r.retiring);
  }

  /** Coordinated shutdown: every worker flushes and publishes, then exits. Idempotent. */
  shutdown(): Promise<ShutdownOutcome> {
    this.stopping ??= this.runShutdown();
    return this.stopping;
  }

  private fork(): WorkerRecord {
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: configToJson(this.config) });
    const record: WorkerRecord = {
      worker,
      startedAt: Date.now(),
      ready: false,
      retiring: false,
      backend: undefined,
      lostBytes: 0,
      lostStreams: 0,
    };
    this.records.set(worker.id, record);
    worker.on('message', (msg: unknown) => {
      if (isWorkerToPrimary(msg)) this.onWorkerMessage(record, msg);
    });
    // A send racing the worker's exit errors asynchronously; the exit handler deals with the worker.
    worker.on('error', (err) => this.logger.debug({ worker_id: worker.id, err: err.message }, 'IPC error'));
    return record;
  }

  private send(record: WorkerRecord, body: PrimaryToWorker): void {
    if (record.worker.isConnected()) record.worker.send(body);
  }

  private onWorkerMessage(record: WorkerRecord, msg: WorkerToPrimary): void {
    switch (msg.type) {
      case 'ready':
        record.ready = true;
        this.startFailing = false;
        this.logger.info({ worker_id: record.worker.id, worker_pid: record.worker.process.pid }, 'worker ready');
        this.refreshView(true);
        for (const listener of [...this.readyListeners]) listener(record);
        return;
      case 'startup_failed':
        this.logger.error({ worker_id: record.worker.id, code: msg.code }, `worker start-up failed: ${msg.message}`);
        if (FATAL_STARTUP_CODES.has(msg.code)) this.hooks.onFatal?.(msg.code, msg.message);
        return;
      case 'backend_health':
        record.backend = msg.health;
        this.logger.info(
          { worker_id: record.worker.id, backend: msg.health.state, err: msg.health.lastError },
          'worker backend state changed',
        );
        this.refreshView();
        return;
      case 'metrics_response':
        this.metrics?.onResponse(record.worker.id, msg.requestId, msg.metrics);
        return;
      case 'shutdown_complete':
        record.lostBytes = msg.lostBytes;
        record.lostStreams = msg.lostStreams;
        return;
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const record = this.records.get(worker.id);
    if (!record) return;
    this.records.delete(worker.id);
    void this.metrics?.retire(worker.id);
    for (const listener of [...this.exitListeners]) listener(record);
    this.refreshView();
    if (this.stopping || record.retiring) return;
    if (!record.ready) this.startFailing = true;
    this.hooks.onRestart?.();
    const livedMs = Date.now() - record.startedAt;
    this.consecutiveFailures = livedMs >= STABLE_AFTER_MS ? 1 : this.consecutiveFailures + 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.consecutiveFailures - 1)) - BACKOFF_BASE_MS;
    this.logger.error(
      { worker_id: worker.id, exit_code: code, signal, lived_ms: livedMs, restart_in_ms: delay },
      'worker exited unexpectedly: replacing it',
    );
    if (delay <= 0) {
      // A replacement that failed during a rolling restart leaves the old worker
      // serving: refill only slots that are really empty.
      if (this.activeRecords().length < this.config.workers) this.fork();
      return;
    }
    if (this.restartTimer) return; // one pending restart refills every missing slot
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      while (this.activeRecords().length < this.config.workers) this.fork();
    }, delay);
  }

  private whenExited(record: WorkerRecord): Promise<void> {
    if (record.worker.isDead() || !this.records.has(record.worker.id)) return Promise.resolve();
    return new Promise((resolve) => {
      const onExit = (r: WorkerRecord): void => {
        if (r !== record) return;
        this.exitListeners.delete(onExit);
        resolve();
      };
      this.exitListeners.add(onExit);
    });
  }

  private computeView(): ClusterView {
    const inputs = [...this.records.values()]
      .filter((r) => !r.retiring)
      .map((r) => ({ ready: r.ready, backend: r.backend }));
    return clusterView(inputs, this.config.workers, this.draining, this.config.backendUnhealthyAfterMs);
  }

  /** Recomputes the cluster view and shares it with every worker when it changed (or when asked). */
  private refreshView(force = false): void {
    const next = this.computeView();
    const changed = !sameView(this.view, next);
    if (changed && this.view)
      this.logger.info({ status: next.status, workers: next.workers, pubsub: next.pubsub }, 'cluster health changed');
    this.view = next;
    if (!changed && !force) return;
    for (const record of this.records.values()) this.send(record, message({ type: 'cluster_view', view: next }));
  }

  private async runShutdown(): Promise<ShutdownOutcome> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.refreshView();
    const records = [...this.records.values()];
    this.logger.info({ workers: records.length }, 'shutting down: workers flush and publish every stream');
    const exits = records.map((r) => this.whenExited(r));
    for (const r of records)
      this.send(r, message({ type: 'shutdown', closeCode: 1001, reason: 'server shutting down' }));
    let killed = 0;
    const killTimer = setTimeout(() => {
      for (const r of records) {
        if (r.worker.isDead()) continue;
        killed++;
        r.worker.process.kill('SIGKILL');
      }
    }, this.config.shutdownTimeoutMs + KILL_GRACE_MS);
    await Promise.all(exits);
    clearTimeout(killTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    const lostBytes = records.reduce((sum, r) => sum + r.lostBytes, 0);
    const lostStreams = records.reduce((sum, r) => sum + r.lostStreams, 0);
    // A worker that never became ready and failed at start-up took no stream: it lost nothing.
    const codes = records
      .filter((r) => r.ready || r.worker.process.exitCode !== EXIT.startupFailed)
      .map((r) => r.worker.process.exitCode);
    const clean = killed === 0 && lostBytes === 0 && lostStreams === 0 && codes.every((c) => c === EXIT.ok);
    return { clean, lostBytes, lostStreams, killed, startFailing: this.startFailing };
  }
}
