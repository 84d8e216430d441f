/**
 * Aggregates the workers' metrics over IPC for the primary's /metrics.
 *
 * Unlike prom-client's AggregatorRegistry, a scrape never fails or hangs
 * because of one worker: each worker gets SCRAPE_TIMEOUT to answer, a late or
 * dead one is left out, and its absence shows in
 * `ingest_metrics_workers_missing`. Late and duplicate replies are ignored.
 *
 * Counters must not drop when a worker is replaced (the summed series would
 * look like a reset and rate() would spike): the last snapshot of every
 * worker that exits is folded into a `retired` set of counters and histograms
 * that stays in the sum. Increments between that snapshot and the exit are
 * lost; they are at most one scrape interval's worth.
 */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Gauge, Registry } from 'prom-client';
import { message, type WorkerMetricsJson } from '../shared/ipc';

interface PendingScrape {
  readonly waiting: Set<number>;
  readonly responses: Map<number, WorkerMetricsJson>;
  readonly done: () => void;
}

export class ClusterMetrics {
  private nextRequestId = 1;
  private readonly pending = new Map<number, PendingScrape>();
  private readonly lastSnapshot = new Map<number, WorkerMetricsJson>();
  private retired: WorkerMetricsJson = [];
  private readonly missing: Gauge;

  constructor(
    private readonly workers: () => Worker[],
    private readonly primaryRegistry: Registry,
    private readonly timeoutMs: number,
  ) {
    this.missing = new Gauge({
      name: 'ingest_metrics_workers_missing',
      help: 'Workers that did not answer the last metrics scrape in time (their numbers are missing from it).',
      registers: [primaryRegistry],
    });
  }

  /** The whole cluster's exposition text. */
  async scrape(): Promise<string> {
    const live = this.workers().filter((w) => w.isConnected());
    const responses = await this.collect(live);
    this.missing.set(live.length - responses.size);
    for (const [id, metrics] of responses) this.lastSnapshot.set(id, metrics);
    const aggregated = AggregatorRegistry.aggregate([...responses.values(), this.retired]) as Registry;
    return Registry.merge([aggregated, this.primaryRegistry]).metrics();
  }

  /** Routes a worker's reply; anything unexpected (late, duplicate, unknown id) is dropped. */
  onResponse(workerId: number, requestId: number, metrics: WorkerMetricsJson): void {
    const scrape = this.pending.get(requestId);
    if (!scrape || !scrape.waiting.delete(workerId)) return;
    scrape.responses.set(workerId, metrics);
    if (scrape.waiting.size === 0) scrape.done();
  }

  /** A worker exited: keep its counters in the totals. */
  async retire(workerId: number): Promise<void> {
    for (const scrape of this.pending.values()) {
      if (scrape.waiting.delete(workerId) && scrape.waiting.size === 0) scrape.done();
    }
    const last = this.lastSnapshot.get(workerId);
    this.lastSnapshot.delete(workerId);
    if (!last) return;
    // At run time `type` is prom-client's string ('counter'), not the typings' enum.
    const cumulative = last.filter((m) => ['counter', 'histogram'].includes(m.type as unknown as string));
    this.retired = await AggregatorRegistry.aggregate([this.retired, cumulative]).getMetricsAsJSON() as WorkerMetricsJson;
  }

  private collect(workers: Worker[]): Promise<Map<number, WorkerMetricsJson>> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      const scrape: PendingScrape = {
        waiting: new Set(workers.map((w) => w.id)),
        responses: new Map(),
        done: () => {
          clearTimeout(timer);
          this.pending.delete(requestId);
          resolve(scrape.responses);
        },
      };
      const timer = setTimeout(scrape.done, this.timeoutMs);
      this.pending.set(requestId, scrape);
      if (workers.length === 0) return scrape.done();
      for (const worker of workers) {
        try {
          worker.send(message({ type: 'metrics_request', requestId }));
        } catch {
          scrape.waiting.delete(worker.id); // the channel closed between the filter and the send
        }
      }
      if (scrape.waiting.size === 0) scrape.done();
    });
  }
}
