/**
 * Aggregates the workers' metrics over IPC for the primary's /metrics.
 *
 * Unlike prom-client's AggregatorRegistry, a scrape never fails or hangs
 * because of one worker: each worker gets SCRAPE_TIMEOUT to answer, a late or
 * dead one is left out, and its absence shows in
 * `ingest_metrics_workers_missing`. Late and duplicate replies are ignored.
 *
 * Counters must not drop (the summed series would look like a reset and
 * rate() would spike), neither when a worker is replaced nor when one misses
 * a scrape: the counters and histograms of a worker that did not answer come
 * from its last snapshot, and the last snapshot of every worker that exits is
 * folded into a `retired` set that stays in the sum. Increments between that
 * snapshot and the exit are lost; they are at most one scrape interval's worth.
 */
import { AggregatorRegistry, Gauge, Registry, type PrometheusContentType } from 'prom-client';
import { message, type WorkerMetricsJson } from '../../shared/process/ipc';
import type { WorkerHandle } from '../pool/worker-launcher';

interface PendingScrape {
  readonly waiting: Set<number>;
  readonly responses: Map<number, WorkerMetricsJson>;
  readonly done: () => void;
}

export class ClusterMetrics {
  private nextRequestId = 1;
  private readonly pending = new Map<number, PendingScrape>();
  private readonly lastSnapshot = new Map<number, WorkerMetricsJson>();
  /** Cumulative snapshots of exited workers, merged into one in the background (compactRetired). */
  private retired: WorkerMetricsJson[] = [];
  private compacting = false;
  private readonly missing: Gauge;

  constructor(
    private readonly workers: () => WorkerHandle[],
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
    const silent = live.filter((w) => !responses.has(w.id) && !w.isDead()); // the dead ones are retired
    this.missing.set(silent.length);
    for (const [id, metrics] of responses) this.lastSnapshot.set(id, metrics);
    const stale = silent.map((w) => cumulative(this.lastSnapshot.get(w.id) ?? []));
    const aggregated = AggregatorRegistry.aggregate<PrometheusContentType>([
      ...responses.values(),
      ...stale,
      ...this.retired,
    ]);
    return Registry.merge([aggregated, this.primaryRegistry]).metrics();
  }

  /** Routes a worker's reply; anything unexpected (late, duplicate, unknown id) is dropped. */
  onResponse(workerId: number, requestId: number, metrics: WorkerMetricsJson): void {
    const scrape = this.pending.get(requestId);
    if (!scrape || !scrape.waiting.delete(workerId)) return;
    scrape.responses.set(workerId, metrics);
    if (scrape.waiting.size === 0) scrape.done();
  }

  /**
   * A worker exited: keep its counters in the totals. Synchronous, so that no
   * scrape ever sees the worker in neither its snapshot nor the retired set.
   */
  retire(workerId: number): void {
    let last = this.lastSnapshot.get(workerId);
    this.lastSnapshot.delete(workerId);
    for (const scrape of this.pending.values()) {
      // A reply it sent before it died is newer than its snapshot: retire that one instead
      // (left in the scrape too, it would be counted twice).
      const fresh = scrape.responses.get(workerId);
      if (fresh) last = fresh;
      scrape.responses.delete(workerId);
      if (scrape.waiting.delete(workerId) && scrape.waiting.size === 0) scrape.done();
    }
    if (!last) return;
    this.retired.push(cumulative(last));
    void this.compactRetired();
  }

  /** Merges the retired snapshots into one, so a crash loop does not grow the list. One merge at a time. */
  private async compactRetired(): Promise<void> {
    if (this.compacting || this.retired.length < 2) return;
    this.compacting = true;
    try {
      const parts = this.retired.slice();
      const merged = (await AggregatorRegistry.aggregate(parts).getMetricsAsJSON()) as WorkerMetricsJson;
      // Only appends happen meanwhile: the merged prefix is still the first parts.length entries.
      this.retired = [merged, ...this.retired.slice(parts.length)];
    } finally {
      this.compacting = false;
    }
    void this.compactRetired();
  }

  private collect(workers: WorkerHandle[]): Promise<Map<number, WorkerMetricsJson>> {
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
        // The channel closed between the filter and the send: nothing will answer.
        if (!worker.send(message({ type: 'metrics_request', requestId }))) scrape.waiting.delete(worker.id);
      }
      if (scrape.waiting.size === 0) scrape.done();
    });
  }
}

/** The counters and histograms of a snapshot: what keeps adding up after the worker is gone. */
function cumulative(metrics: WorkerMetricsJson): WorkerMetricsJson {
  // At run time `type` is prom-client's string ('counter'), not the typings' enum.
  return metrics.filter((m) => ['counter', 'histogram'].includes(m.type as unknown as string));
}
