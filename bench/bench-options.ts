/**
 * `npm run bench -- [flags]`: the benchmark's options, read from argv
 * (node:util parseArgs), with the defaults of a full run and of `--quick`
 * (a minute-scale smoke of every scenario: one round, 100 streams, a few
 * seconds).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_VARIANTS, isVariant, VARIANTS, type Variant } from './variants';

export const SCENARIOS = ['realtime', 'memory', 'maxrate'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  readonly rounds: number;
  /** The measurement window of each run, in seconds. */
  readonly seconds: number;
  /** Real-time stream counts. */
  readonly streams: readonly number[];
  readonly variants: readonly Variant[];
  readonly scenarios: readonly ScenarioName[];
  /** Streams of the idle-memory run, and of the streaming-memory run. */
  readonly idleStreams: number;
  readonly memoryStreams: number;
  /** Streams of the max-rate runs (each keeps its window of frames unacked). */
  readonly maxRateStreams: number;
  readonly quick: boolean;
  readonly out: string | undefined;
}

export const USAGE = `usage: npm run bench -- [--rounds N] [--seconds S] [--streams 500,1000,2000]
  [--variants ${VARIANTS.join(',')}] [--scenarios ${SCENARIOS.join(',')}]
  [--idle-streams N] [--memory-streams N] [--max-rate-streams N] [--quick] [--out FILE]`;

export class UsageError extends Error {}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${flag} must be a positive integer (got ${text})`);
  return value;
}

function list<T extends string>(flag: string, text: string, allowed: (name: string) => name is T): T[] {
  const names = text.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !allowed(name));
  if (unknown.length > 0 || names.length === 0) throw new UsageError(`--${flag}: unknown ${unknown.join(', ')}`);
  return [...new Set(names as T[])];
}

const isScenario = (name: string): name is ScenarioName => (SCENARIOS as readonly string[]).includes(name);

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      streams: { type: 'string' },
      variants: { type: 'string' },
      scenarios: { type: 'string' },
      'idle-streams': { type: 'string' },
      'memory-streams': { type: 'string' },
      'max-rate-streams': { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const quick = values.quick;
  const int = (flag: keyof typeof values, full: number, smoke: number): number => {
    const text = values[flag];
    return typeof text === 'string' ? positiveInteger(flag, text) : quick ? smoke : full;
  };
  const streamsText = values.streams ?? (quick ? '100' : '500,1000,2000');
  return {
    rounds: int('rounds', 5, 1),
    seconds: int('seconds', 20, 3),
    streams: [...new Set(streamsText.split(',').map((text) => positiveInteger('streams', text.trim())))],
    variants: list('variants', values.variants ?? DEFAULT_VARIANTS.join(','), isVariant),
    scenarios: list('scenarios', values.scenarios ?? SCENARIOS.join(','), isScenario),
    idleStreams: int('idle-streams', 5000, 100),
    memoryStreams: int('memory-streams', 1000, 100),
    maxRateStreams: int('max-rate-streams', 200, 20),
    quick,
    out: values.out,
  };
}
