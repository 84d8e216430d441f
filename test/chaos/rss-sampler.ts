/**
 * Samples the resident memory of the service's processes from /proc (VmRSS)
 * at a fixed interval, so that a run shows worker memory over time: the
 * figure that tells a bounded service from one that leaks under faults.
 */
import { readFileSync } from 'node:fs';

export interface RssSample {
  /** Seconds since the sampler started. */
  readonly atS: number;
  /** Each live worker's RSS in MiB, by pid. */
  readonly workers: ReadonlyArray<{ readonly pid: number; readonly rssMiB: number }>;
  readonly primaryMiB: number;
}

/** VmRSS of a process in MiB, or undefined when it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export class RssSampler {
  readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;

  constructor(
    private readonly primaryPid: () => number | undefined,
    private readonly workerPids: () => number[],
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  latest(): RssSample | undefined {
    return this.samples.at(-1);
  }

  /** The highest worker RSS seen in any sample. */
  peakWorkerMiB(): number {
    return Math.max(0, ...this.samples.flatMap((s) => s.workers.map((w) => w.rssMiB)));
  }

  private sample(): void {
    const workers = this.workerPids().flatMap((pid) => {
      const rss = rssMiB(pid);
      return rss === undefined ? [] : [{ pid, rssMiB: rss }];
    });
    const primary = this.primaryPid();
    this.samples.push({
      atS: (performance.now() - this.startedAt) / 1000,
      workers,
      primaryMiB: (primary === undefined ? undefined : rssMiB(primary)) ?? 0,
    });
  }
}
