/**
 * The primary's own metrics, merged into the cluster exposition: worker
 * counts by state, restarts, build info, and the primary process's default
 * metrics under the `ingest_primary_` prefix (so they never collide with the
 * workers' summed process metrics).
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { collectLintCleanDefaultMetrics } from '../../shared/process/process-metrics';

export interface PrimaryMetrics {
  readonly registry: Registry;
  readonly workerRestarts: Counter;
}

export function createPrimaryMetrics(
  version: string,
  workerCounts: () => Record<'expected' | 'alive' | 'ready', number>,
): PrimaryMetrics {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'ingest_workers',
    help: 'Workers by state: expected (WORKERS), alive (running), ready (serving).',
    labelNames: ['state'],
    registers,
    collect() {
      for (const [state, n] of Object.entries(workerCounts())) this.set({ state }, n);
    },
  });
  const workerRestarts = new Counter({
    name: 'ingest_worker_restarts_total',
    help: 'Workers replaced after an unexpected exit.',
    registers,
  });
  const buildInfo = new Gauge({
    name: 'ingest_build_info',
    help: 'Build information (value 1).',
    labelNames: ['version', 'node'],
    registers,
  });
  buildInfo.set({ version, node: process.version }, 1);
  collectLintCleanDefaultMetrics(registry, 'ingest_primary_');
  return { registry, workerRestarts };
}
