/**
 * Keeps the cluster view (cluster-view.ts) current and shares it with every
 * worker whenever it changes, so /health on PORT reflects the whole cluster
 * whichever worker answers. A worker that just became ready gets it even when
 * nothing changed: it has never heard it.
 */
import type { Logger } from 'pino';
import { message, type ClusterView } from '../../shared/process/ipc';
import { clusterView, sameView } from './cluster-view';
import type { WorkerPool } from './worker-pool';

/** How often time-based health transitions (backend down too long) are re-evaluated. */
const HEALTH_TICK_MS = 1_000;

export type ViewSource = Pick<WorkerPool, 'activeRecords' | 'all' | 'config' | 'draining' | 'on'>;

export class ClusterViewBroadcaster {
  private view: ClusterView | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly pool: ViewSource,
    private readonly logger: Logger,
  ) {}

  /** The view as last shared (or as it is now, before the first one). */
  current(): ClusterView {
    return this.view ?? this.compute();
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.unsubscribe = [
      this.pool.on('ready', () => this.refresh(true)),
      this.pool.on('exit', () => this.refresh()),
      this.pool.on('change', () => this.refresh()),
    ];
    this.timer = setInterval(() => this.refresh(), HEALTH_TICK_MS);
    this.refresh();
  }

  /** Recomputes the view and shares it with every worker when it changed (or when `force`d). */
  refresh(force = false): void {
    const next = this.compute();
    const changed = !sameView(this.view, next);
    if (changed && this.view)
      this.logger.info({ status: next.status, workers: next.workers, pubsub: next.pubsub }, 'cluster health changed');
    this.view = next;
    if (!changed && !force) return;
    for (const record of this.pool.all()) record.worker.send(message({ type: 'cluster_view', view: next }));
  }

  /** Stops the periodic re-evaluation and stops following the pool. Idempotent. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  private compute(): ClusterView {
    const { workers, backendUnhealthyAfterMs } = this.pool.config;
    const inputs = this.pool.activeRecords().map((r) => ({ ready: r.ready, backend: r.backend }));
    return clusterView(inputs, workers, this.pool.draining, backendUnhealthyAfterMs);
  }
}
