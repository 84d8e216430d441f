/**
 * What the pool knows about one worker, from its messages and its exit. Others
 * read it; only the pool writes it (PoolRecord), so the state has one owner.
 */
import type { BackendHealthSnapshot } from '../../shared/publishing/backend-health';
import type { WorkerHandle } from './worker-launcher';

export interface WorkerRecord {
  readonly worker: WorkerHandle;
  readonly startedAt: number;
  readonly ready: boolean;
  /** Being replaced by a rolling restart: its exit is expected. */
  readonly retiring: boolean;
  readonly backend: BackendHealthSnapshot | undefined;
  /** What it reported left unpublished when it stopped. */
  readonly lostBytes: number;
  readonly lostStreams: number;
  /** Resolves once it has exited. */
  readonly exited: Promise<void>;
}

/** The pool's own, writable side of a record. */
export type PoolRecord = { -readonly [K in keyof WorkerRecord]: WorkerRecord[K] } & {
  /** Resolves `exited`: the pool calls it when the worker's exit comes in. */
  readonly markExited: () => void;
};

export function createWorkerRecord(worker: WorkerHandle, startedAt: number): PoolRecord {
  let markExited!: () => void;
  const exited = new Promise<void>((resolve) => (markExited = resolve));
  return {
    worker,
    startedAt,
    ready: false,
    retiring: false,
    backend: undefined,
    lostBytes: 0,
    lostStreams: 0,
    exited,
    markExited,
  };
}
