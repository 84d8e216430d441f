/**
 * The fuzzer's only source of randomness: a seeded generator (mulberry32), so
 * that a failing run is replayed exactly with FUZZ_SEED=<the printed seed>.
 * Each case draws from its own generator, derived from the run's seed and the
 * case's index, so a case is the same whatever ran before it or concurrently.
 */
export class FuzzRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator of case `index` of the run seeded with `seed`. */
  static forCase(seed: number, index: number): FuzzRandom {
    return new FuzzRandom(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  bytes(size: number): Buffer {
    const out = Buffer.alloc(size);
    for (let i = 0; i < size; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

/** FUZZ_SEED from the environment (decimal), else a fresh one; the caller prints it. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env.FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got "${given}"`);
    return seed >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32);
}
