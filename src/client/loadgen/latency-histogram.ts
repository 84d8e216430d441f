/**
 * A log-linear latency histogram in the manner of HdrHistogram: values are
 * recorded in microseconds into buckets whose width is 1/64 of their power of
 * two (so any value is known to within about 1.6 %), in one Float64Array that
 * a worker thread can post to the main thread and the main thread can add to
 * another. Percentiles are read back as the upper edge of their bucket, the
 * way HdrHistogram reports them: never optimistic. The exact maximum is kept
 * beside the buckets.
 */

/** Sub-buckets per power of two: 64 gives a relative error under 1/64. */
const SUB_BUCKET_BITS = 6;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
/** Values up to 2^38 µs (about 3 days): everything a run can see. */
const MAX_EXPONENT = 38;
const BUCKETS = (MAX_EXPONENT - SUB_BUCKET_BITS + 2) * SUB_BUCKETS;
/** Slots after the buckets: total count, maximum (µs). */
const COUNT_SLOT = BUCKETS;
const MAX_SLOT = BUCKETS + 1;
const SLOTS = BUCKETS + 2;

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

function indexOf(micros: number): number {
  if (micros < 2 * SUB_BUCKETS) return micros;
  let exponent = Math.floor(Math.log2(micros)) - SUB_BUCKET_BITS; // ≥ 1
  let sub = Math.floor(micros / 2 ** exponent);
  // Math.log2 may round at an exact power of two: bring sub back into 64..127.
  if (sub >= 2 * SUB_BUCKETS) sub = Math.floor(micros / 2 ** ++exponent);
  else if (sub < SUB_BUCKETS) sub = Math.floor(micros / 2 ** --exponent);
  return Math.min(BUCKETS - 1, exponent * SUB_BUCKETS + sub);
}

/** The largest value (µs) that falls into bucket `index`. */
function upperEdge(index: number): number {
  if (index < 2 * SUB_BUCKETS) return index;
  const exponent = Math.floor(index / SUB_BUCKETS) - 1;
  const sub = index - exponent * SUB_BUCKETS; // 64..127
  return (sub + 1) * 2 ** exponent - 1;
}

export class LatencyHistogram {
  readonly counts: Float64Array;

  constructor(counts?: Float64Array) {
    if (counts && counts.length !== SLOTS) throw new RangeError(`a histogram has ${SLOTS} slots, not ${counts.length}`);
    this.counts = counts ?? new Float64Array(SLOTS);
  }

  /** Records one value in milliseconds (negative values count as 0). */
  record(ms: number): void {
    const micros = Math.max(0, Math.round(ms * 1000));
    this.counts[indexOf(micros)]++;
    this.counts[COUNT_SLOT]++;
    if (micros > this.counts[MAX_SLOT]) this.counts[MAX_SLOT] = micros;
  }

  /** Adds another histogram's counts to this one. */
  add(other: LatencyHistogram | Float64Array): void {
    const counts = other instanceof LatencyHistogram ? other.counts : other;
    for (let i = 0; i < BUCKETS; i++) if (counts[i] !== 0) this.counts[i] += counts[i];
    this.counts[COUNT_SLOT] += counts[COUNT_SLOT];
    this.counts[MAX_SLOT] = Math.max(this.counts[MAX_SLOT], counts[MAX_SLOT]);
  }

  get count(): number {
    return this.counts[COUNT_SLOT];
  }

  /** The exact largest value recorded, in ms. */
  get max(): number {
    return this.counts[MAX_SLOT] / 1000;
  }

  /** The value (ms) at or below which `percent` % of the values lie; 0 when empty. */
  percentile(percent: number): number {
    const total = this.count;
    if (total === 0) return 0;
    const rank = Math.max(1, Math.ceil((percent / 100) * total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(upperEdge(i), this.counts[MAX_SLOT]) / 1000;
    }
    return this.max;
  }

  summary(): LatencySummary {
    const round = (ms: number): number => Math.round(ms * 100) / 100;
    return {
      p50: round(this.percentile(50)),
      p90: round(this.percentile(90)),
      p99: round(this.percentile(99)),
      max: round(this.max),
      count: this.count,
    };
  }

  clone(): LatencyHistogram {
    return new LatencyHistogram(new Float64Array(this.counts));
  }
}
