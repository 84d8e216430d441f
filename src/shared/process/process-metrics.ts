/**
 * The Node.js process metrics both roles expose (the primary with the
 * `ingest_primary_` prefix).
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's default metrics include three gauges whose names end in
 * `_total`, which `promtool check metrics` rejects (only counters may); the
 * labelled `nodejs_active_handles` etc. carry the same numbers by type.
 */
const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** collectDefaultMetrics, less the gauges named like counters. */
export function collectLintCleanDefaultMetrics(registry: Registry, prefix = ''): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(prefix + name);
}
