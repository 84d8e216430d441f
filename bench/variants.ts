/**
 * The servers a benchmark compares, and what each one is: the two
 * references of bench/reference/ (floor; pipeline, and the pipeline without
 * Redis as `buffering`) and the service with each adapter (`redis_xadd`:
 * redis_streams with REDIS_DEDUPLICATE=false, one plain XADD per record like
 * the pipeline; on request only).
 */
export const VARIANTS = ['floor', 'buffering', 'pipeline', 'in_memory', 'redis_streams', 'redis_xadd'] as const;
export type Variant = (typeof VARIANTS)[number];

/** What a run compares unless --variants says otherwise. */
export const DEFAULT_VARIANTS: readonly Variant[] = ['floor', 'buffering', 'pipeline', 'in_memory', 'redis_streams'];

export function isVariant(name: string): name is Variant {
  return (VARIANTS as readonly string[]).includes(name);
}

/** The real service (node dist/src/primary/main.js), as opposed to a reference server. */
export function isService(variant: Variant): boolean {
  return variant === 'in_memory' || variant === 'redis_streams' || variant === 'redis_xadd';
}

/** Publishes to a redis-server of the measurement's own. */
export function usesRedis(variant: Variant): boolean {
  return variant === 'pipeline' || variant === 'redis_streams' || variant === 'redis_xadd';
}

/** in_memory keeps its last 100,000 records in the worker: its RSS measures that store, not streams. */
export function hasMemoryFigure(variant: Variant): boolean {
  return variant !== 'in_memory';
}
