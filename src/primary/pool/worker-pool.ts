/**
 * The primary's worker pool: forks WORKERS workers sharing PORT, keeps each
 * one's state from its messages, replaces one that dies (after RestartBackoff's
 * delay, so a crash loop never spins the CPU) and forks or drains single
 * workers for a rolling restart. The rest of the primary learns what happens
 * through PoolEvents, subscribed when it is built. It handles no requests.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { configToJson, WORKER_CONFIG_ENV } from '../../shared/config/config-handoff';
import type { Config } from '../../shared/config/config-schema';
import { message, type WorkerMetricsJson, type WorkerToPrimary } from '../../shared/process/ipc';
import { RestartBackoff } from './restart-backoff';
import type { WorkerHandle, WorkerLauncher } from './worker-launcher';
import { createWorkerRecord, type PoolRecord, type WorkerRecord } from './worker-record';
import { SERVER_CLOSE } from '../../shared/protocol';

/** Grace after the workers' own deadline for them to report and exit before they are killed. */
export const KILL_GRACE_MS = 5_000;
/** Start-up failures no restart can fix: the primary stops instead of crash-looping. */
const FATAL_STARTUP_CODES: ReadonlySet<string> = new Set(['port_in_use', 'config_invalid', 'topic_missing']);

export interface PoolEvents {
  ready: (record: WorkerRecord) => void;
  /** A worker exited; it is already out of the pool. */
  exit: (record: WorkerRecord) => void;
  /** An unexpected exit: a replacement is on its way. */
  restart: () => void;
  /** A start-up failure no restart can fix (port in use, bad config). */
  fatal: (code: string, text: string) => void;
  /** Something the cluster view depends on changed: a backend's state, a worker retiring. */
  change: () => void;
  metrics: (workerId: number, requestId: number, metrics: WorkerMetricsJson) => void;
  /** A worker asks for or gives back a tenant stream slot (MAX_STREAMS_PER_TENANT counted by the primary). */
  lease: (
    record: WorkerRecord,
    msg: Extract<WorkerToPrimary, { type: 'lease_acquire' | 'lease_release' | 'lease_held' }>,
  ) => void;
}

export class WorkerPool {
  private readonly records = new Map<number, PoolRecord>();
  private readonly events = new EventEmitter();
  private readonly backoff = new RestartBackoff();
  private failingAtStart = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(
    private currentConfig: Readonly<Config>,
    private readonly launcher: WorkerLauncher,
    private readonly logger: Logger,
  ) {}

  /** The configuration new workers get. */
  get config(): Readonly<Config> {
    return this.currentConfig;
  }

  /** New workers (replacements, the next rolling restart) start with `next`; running ones keep theirs. */
  reconfigure(next: Readonly<Config>): void {
    this.currentConfig = next;
  }

  /** Closed for the shutdown: no worker is forked or replaced any more. */
  get draining(): boolean {
    return this.closed;
  }

  /** Workers are failing at start-up: none became ready since one exited before it was. */
  get startFailing(): boolean {
    return this.failingAtStart;
  }

  /** Subscribes to one event; returns the function that unsubscribes. */
  on<K extends keyof PoolEvents>(event: K, listener: PoolEvents[K]): () => void {
    this.events.on(event, listener);
    return () => void this.events.off(event, listener);
  }

  workers(): WorkerHandle[] {
    return [...this.records.values()].map((r) => r.worker);
  }

  /** Every running worker, those being replaced included, oldest first. */
  all(): WorkerRecord[] {
    return [...this.records.values()];
  }

  /** Workers serving now (not already being replaced), oldest first. */
  activeRecords(): WorkerRecord[] {
    return this.all().filter((r) => !r.retiring);
  }

  counts(): Record<'expected' | 'alive' | 'ready', number> {
    let ready = 0;
    for (const r of this.records.values()) if (r.ready && !r.retiring) ready++;
    return { expected: this.config.workers, alive: this.records.size, ready };
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (let i = 0; i < this.config.workers; i++) this.fork();
  }

  /** Stops forking and replacing workers (the running ones are the shutdown's). Idempotent. */
  close(): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  /** Resolves once as many workers as expected are ready. */
  whenAllReady(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.counts().ready < this.config.workers) return;
        off();
        resolve();
      };
      const off = this.on('ready', check);
      check();
    });
  }

  /** Forks one worker; resolves with its record once it is ready, or rejects if it exits first. */
  forkAndWaitReady(): Promise<WorkerRecord> {
    const record = this.fork();
    return new Promise((resolve, reject) => {
      const offReady = this.on('ready', (r) => {
        if (r !== record) return;
        offAll();
        resolve(r);
      });
      const offExit = this.on('exit', (r) => {
        if (r !== record) return;
        offAll();
        reject(new Error(`replacement worker ${r.worker.id} exited before it was ready`));
      });
      const offAll = (): void => {
        offReady();
        offExit();
      };
    });
  }

  /** Tells one worker to drain (rolling restart) and resolves when it has exited. */
  retire(target: WorkerRecord): Promise<void> {
    const record = this.records.get(target.worker.id);
    if (!record) return target.exited;
    record.retiring = true;
    this.emit('change');
    const { drainTimeoutMs, shutdownTimeoutMs } = this.config;
    record.worker.send(
      message({
        type: 'drain',
        closeCode: SERVER_CLOSE.restart.code,
        reason: SERVER_CLOSE.restart.reason,
        drainTimeoutMs,
      }),
    );
    const killTimer = setTimeout(
      () => {
        if (record.worker.isDead()) return;
        this.logger.error({ worker_id: record.worker.id }, 'draining worker overran its deadline: killed');
        record.worker.kill();
      },
      drainTimeoutMs + shutdownTimeoutMs + KILL_GRACE_MS,
    );
    return record.exited.finally(() => clearTimeout(killTimer));
  }

  /**
   * Forks workers until WORKERS are serving or starting. A worker that died
   * while a roll had one extra running was not replaced (the count looked
   * full); the roll calls this after each step.
   */
  refill(): void {
    if (this.closed) return;
    while (this.activeRecords().length < this.config.workers) this.fork();
  }

  private fork(): PoolRecord {
    const worker = this.launcher.fork(
      { [WORKER_CONFIG_ENV]: configToJson(this.config) },
      {
        message: (msg) => this.onMessage(record, msg),
        exit: (code, signal) => this.onExit(record, code, signal),
      },
    );
    const record = createWorkerRecord(worker, Date.now());
    this.records.set(worker.id, record);
    return record;
  }

  private onMessage(record: PoolRecord, msg: WorkerToPrimary): void {
    switch (msg.type) {
      case 'ready':
        record.ready = true;
        this.failingAtStart = false;
        this.logger.info({ worker_id: record.worker.id, worker_pid: record.worker.pid }, 'worker ready');
        this.emit('ready', record);
        return;
      case 'startup_failed':
        this.logger.error({ worker_id: record.worker.id, code: msg.code }, `worker start-up failed: ${msg.message}`);
        if (FATAL_STARTUP_CODES.has(msg.code)) this.emit('fatal', msg.code, msg.message);
        return;
      case 'backend_health':
        record.backend = msg.health;
        this.logger.info(
          { worker_id: record.worker.id, backend: msg.health.state, err: msg.health.lastError },
          'worker backend state changed',
        );
        this.emit('change');
        return;
      case 'metrics_response':
        this.emit('metrics', record.worker.id, msg.requestId, msg.metrics);
        return;
      case 'shutdown_complete':
        record.lostBytes = msg.lostBytes;
        record.lostStreams = msg.lostStreams;
        return;
      case 'lease_acquire':
      case 'lease_release':
      case 'lease_held':
        // A message that arrives after the exit would take a slot nobody frees.
        if (this.records.has(record.worker.id)) this.emit('lease', record, msg);
        return;
    }
  }

  private onExit(record: PoolRecord, code: number | null, signal: string | null): void {
    if (!this.records.delete(record.worker.id)) return;
    record.markExited();
    this.emit('exit', record);
    if (this.closed || record.retiring) return;
    if (!record.ready) this.failingAtStart = true;
    this.emit('restart');
    const livedMs = Date.now() - record.startedAt;
    const delay = this.backoff.next(livedMs);
    this.logger.error(
      { worker_id: record.worker.id, exit_code: code, signal, lived_ms: livedMs, restart_in_ms: delay },
      'worker exited unexpectedly: replacing it',
    );
    this.replaceAfter(delay);
  }

  private replaceAfter(delay: number): void {
    if (delay <= 0) {
      // A replacement that failed during a rolling restart leaves the old worker
      // serving: refill only slots that are really empty.
      if (this.activeRecords().length < this.config.workers) this.fork();
      return;
    }
    if (this.restartTimer) return; // one pending restart refills every missing slot
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.refill();
    }, delay);
  }

  private emit<K extends keyof PoolEvents>(event: K, ...args: Parameters<PoolEvents[K]>): void {
    this.events.emit(event, ...args);
  }
}
