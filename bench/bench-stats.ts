/**
 * The figures a report gives for a metric over rounds: median and range,
 * and ratios taken within a round (a variant against its reference in the
 * same round, so that the round's noise cancels) before the median.
 */
import { specKey, type Measurement, type MeasurementSpec } from './measurement';

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function summarize(values: readonly number[]): Summary | undefined {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return undefined;
  const mid = Math.floor(finite.length / 2);
  const median = finite.length % 2 === 1 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
  return { median, min: finite[0], max: finite.at(-1)!, n: finite.length };
}

export type Metric = (m: Measurement) => number | undefined;

/** Measurements grouped by spec, for lookups by spec and round. */
export class MeasurementIndex {
  private readonly bySpec = new Map<string, Measurement[]>();

  constructor(measurements: readonly Measurement[]) {
    for (const m of measurements) {
      const key = specKey(m.spec);
      this.bySpec.set(key, [...(this.bySpec.get(key) ?? []), m]);
    }
  }

  runs(spec: MeasurementSpec): readonly Measurement[] {
    return this.bySpec.get(specKey(spec)) ?? [];
  }

  has(spec: MeasurementSpec): boolean {
    return this.runs(spec).length > 0;
  }

  /** A metric over the rounds of one spec. */
  summary(spec: MeasurementSpec, metric: Metric): Summary | undefined {
    return summarize(this.runs(spec).map((m) => metric(m) ?? NaN));
  }

  /** metric(spec) / metric(reference), round by round (the reference: another variant, or another worker count). */
  ratio(spec: MeasurementSpec, reference: MeasurementSpec, metric: Metric): Summary | undefined {
    const base = new Map(this.runs(reference).map((m) => [m.round, metric(m)]));
    return summarize(
      this.runs(spec).map((m) => {
        const value = metric(m);
        const against = base.get(m.round);
        return value === undefined || against === undefined || against === 0 ? NaN : value / against;
      }),
    );
  }
}
