/**
 * Forks the workers with node:cluster (they share PORT) and turns each
 * cluster.Worker into the pool's WorkerHandle.
 */
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import type { Logger } from 'pino';
import { isWorkerToPrimary, type PrimaryToWorker } from '../../shared/process/ipc';
import type { WorkerEvents, WorkerHandle, WorkerLauncher } from './worker-launcher';

const WORKER_MAIN = path.join(__dirname, '..', '..', 'worker', 'main.js');

/** The V8 settings the primary passes to its workers as flags. */
export interface WorkerV8Settings {
  /** WORKER_MAX_SEMI_SPACE_MB; 0: V8's default. */
  readonly maxSemiSpaceMb: number;
  /** WORKER_HEAP_GROWING_PERCENT; 0: V8's default. */
  readonly heapGrowingPercent: number;
}

/**
 * The workers' Node.js flags: the primary's own, then each V8 setting that is
 * not 0. Flags on the command line win over NODE_OPTIONS, so an operator's
 * NODE_OPTIONS value counts only where the setting is 0 here.
 */
export function workerExecArgv(settings: WorkerV8Settings, primaryExecArgv: readonly string[]): string[] {
  const flags = [...primaryExecArgv];
  if (settings.maxSemiSpaceMb > 0) flags.push(`--max-semi-space-size=${settings.maxSemiSpaceMb}`);
  if (settings.heapGrowingPercent > 0) flags.push(`--heap-growing-percent=${settings.heapGrowingPercent}`);
  return flags;
}

export class ClusterLauncher implements WorkerLauncher {
  constructor(
    private readonly logger: Logger,
    v8Settings: WorkerV8Settings,
  ) {
    cluster.setupPrimary({ exec: WORKER_MAIN, execArgv: workerExecArgv(v8Settings, process.execArgv) });
  }

  fork(env: Readonly<Record<string, string>>, events: WorkerEvents): WorkerHandle {
    const worker = cluster.fork(env);
    worker.on('message', (msg: unknown) => {
      if (isWorkerToPrimary(msg)) events.message(msg);
    });
    // A send racing the worker's exit errors asynchronously; the exit handler deals with the worker.
    // The listener stays after the exit: such an error can come later still, and unheard it would crash the primary.
    worker.on('error', (err) => this.logger.debug({ worker_id: worker.id, err: err.message }, 'IPC error'));
    worker.once('exit', (code: number | null, signal: string | null) => events.exit(code, signal));
    return handleOf(worker);
  }
}

function handleOf(worker: Worker): WorkerHandle {
  return {
    id: worker.id,
    get pid() {
      return worker.process.pid;
    },
    get exitCode() {
      return worker.process.exitCode;
    },
    isConnected: () => worker.isConnected(),
    isDead: () => worker.isDead(),
    send: (message: PrimaryToWorker) => {
      if (!worker.isConnected()) return false;
      try {
        worker.send(message);
        return true;
      } catch {
        return false; // the channel closed between the check and the send
      }
    },
    kill: () => void worker.process.kill('SIGKILL'),
  };
}
