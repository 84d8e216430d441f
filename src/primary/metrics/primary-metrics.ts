/**
 * The primary's own metrics, merged into the cluster exposition: worker
 * counts by state, the cluster's /health status, restarts, build info, and the primary process's default
 * metrics under the `ingest_primary_` prefix (so they never collide with the
 * workers' summed process metrics).
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { HEALTH_STATUSES, type HealthStatus } from '../../shared/health/health-status';
import { collectLintCleanDefaultMetrics } from '../../shared/process/process-metrics';

export interface PrimaryMetrics {
  readonly registry: Registry;
  readonly workerRestarts: Counter;
}

export function createPrimaryMetrics(
  version: string,
  workerCounts: () => Record<'expected' | 'alive' | 'ready', number>,
  health: () => HealthStatus,
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
  // One series per status, 1 for the current one: alerts and dashboards see what /health answers
  // (the JSON body is not something Prometheus can scrape).
  new Gauge({
    name: 'ingest_health',
    help: "The cluster's /health status: 1 for the current one of healthy, degraded, unhealthy, 0 for the others.",
    labelNames: ['status'],
    registers,
    collect() {
      const current = health();
      for (const status of HEALTH_STATUSES) this.set({ status }, status === current ? 1 : 0);
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
