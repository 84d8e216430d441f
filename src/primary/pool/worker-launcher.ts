/**
 * The seam between the worker pool and node:cluster. The pool's rules
 * (backoff, refill, kill timers, the shutdown outcome) depend only on this,
 * so unit tests drive them with fake workers; ClusterLauncher is the real
 * thing, which the e2e tests cover.
 */
import type { PrimaryToWorker, WorkerToPrimary } from '../../shared/process/ipc';

/** One forked worker, as the primary sees it. */
export interface WorkerHandle {
  readonly id: number;
  readonly pid: number | undefined;
  /** Its exit status; null while it runs, or when a signal ended it. */
  readonly exitCode: number | null;
  isConnected(): boolean;
  isDead(): boolean;
  /** False when the message could not go out (the channel is closed): the worker is on its way out. */
  send(message: PrimaryToWorker): boolean;
  /** SIGKILL: for a worker that overran its deadline. */
  kill(): void;
}

/** Where a worker's messages and its exit go; set at fork, so none is missed. */
export interface WorkerEvents {
  readonly message: (message: WorkerToPrimary) => void;
  readonly exit: (code: number | null, signal: string | null) => void;
}

export interface WorkerLauncher {
  /** Starts one worker with `env` added to its environment. */
  fork(env: Readonly<Record<string, string>>, events: WorkerEvents): WorkerHandle;
}
