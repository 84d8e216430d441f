/**
 * Samples the resident memory of the service's processes from /proc (VmRSS)
 * at a fixed interval, so that a run shows worker memory over time: the
 * figure that tells a bounded service from one that leaks under faults.
 * Beside it, the workers' V8 heap in use and external (Buffer) memory as the
 * primary's /metrics reports them (summed over the workers), which says
 * whether a rising RSS is live data or memory the allocator keeps.
 */
import { processRssKiB } from '../../bench/process-tree';

export interface RssSample {
  /** Seconds since the sampler started. */
  readonly atS: number;
  /** Each live worker's RSS in MiB, by pid. */
  readonly workers: ReadonlyArray<{ readonly pid: number; readonly rssMiB: number }>;
  readonly primaryMiB: number;
  /** Workers' heap used and external memory (MiB, summed), when the metrics endpoint answered. */
  readonly heapUsedMiB?: number;
  readonly externalMiB?: number;
}

export interface HeapFigures {
  readonly heapUsedMiB: number;
  readonly externalMiB: number;
}

const MIB = 1024 * 1024;

/** nodejs_heap_size_used_bytes and nodejs_external_memory_bytes of the workers, from the primary's /metrics. */
export async function workersHeap(metricsPort: number): Promise<HeapFigures | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    const value = (name: string): number | undefined => {
      const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return match ? Number(match[1]) / MIB : undefined;
    };
    const heapUsedMiB = value('nodejs_heap_size_used_bytes');
    const externalMiB = value('nodejs_external_memory_bytes');
    return heapUsedMiB === undefined || externalMiB === undefined ? undefined : { heapUsedMiB, externalMiB };
  } catch {
    return undefined; // the primary busy or gone: this sample has RSS only
  }
}

/** VmRSS of a process in MiB, or undefined when it is gone (a live process always has some). */
export function rssMiB(pid: number): number | undefined {
  const kib = processRssKiB(pid);
  return kib === 0 ? undefined : kib / 1024;
}

export class RssSampler {
  readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;

  constructor(
    private readonly primaryPid: () => number | undefined,
    private readonly workerPids: () => number[],
    private readonly intervalMs: number,
    private readonly heap?: () => Promise<HeapFigures | undefined>,
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
    void this.sampleNow();
  }

  private async sampleNow(): Promise<void> {
    const atS = (performance.now() - this.startedAt) / 1000;
    const workers = this.workerPids().flatMap((pid) => {
      const rss = rssMiB(pid);
      return rss === undefined ? [] : [{ pid, rssMiB: rss }];
    });
    const primary = this.primaryPid();
    const primaryMiB = (primary === undefined ? undefined : rssMiB(primary)) ?? 0;
    const heap = await this.heap?.();
    this.samples.push({ atS, workers, primaryMiB, ...heap });
  }
}
