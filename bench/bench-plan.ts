/**
 * What one round measures, in order. Every round runs every measurement of
 * every scenario before the next round starts, so that the machine's noise
 * (another tenant, a thermal step) falls on all variants alike; the order of
 * the variants turns by one each round, so none always runs first.
 */
import type { BenchOptions } from './bench-options';
import { specKey, type MeasurementSpec } from './measurement';
import { hasMemoryFigure, isService, type Variant } from './variants';

function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

export function planRound(options: BenchOptions, round: number): MeasurementSpec[] {
  const variants: Variant[] = rotate(options.variants, round);
  const plan: MeasurementSpec[] = [];
  const scenarios = new Set(options.scenarios);
  if (scenarios.has('realtime')) {
    for (const streams of options.streams) {
      for (const variant of variants) plan.push({ scenario: 'realtime', variant, streams, workers: 1 });
    }
  }
  if (scenarios.has('memory')) {
    for (const variant of variants.filter(hasMemoryFigure)) {
      plan.push({ scenario: 'idle', variant, streams: options.idleStreams, workers: 1 });
      // The streaming figure comes from the real-time run at that count when there is one.
      plan.push({ scenario: 'realtime', variant, streams: options.memoryStreams, workers: 1 });
    }
  }
  if (scenarios.has('maxrate')) {
    for (const variant of variants) {
      plan.push({ scenario: 'maxrate', variant, streams: options.maxRateStreams, workers: 1 });
      if (isService(variant)) plan.push({ scenario: 'maxrate', variant, streams: options.maxRateStreams, workers: 2 });
    }
  }
  const seen = new Set<string>();
  return plan.filter((spec) => !seen.has(specKey(spec)) && Boolean(seen.add(specKey(spec))));
}
