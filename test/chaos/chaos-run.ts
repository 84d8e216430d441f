/**
 * `npm run chaos -- --streams N --seconds S [--backend redis_streams|kafka]
 * [--seed X] [--workers W] [--fault-gap-ms MS]`: one chaos run against the
 * built service (see chaos-scenario.ts and docs/reliability.md). Prints
 * progress and the report; exits 1 when anything committed is missing or
 * damaged (or a stream could not finish), 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { reportLines, failureReasons } from './chaos-report';
import { runChaos, type ChaosOptions } from './chaos-scenario';

const USAGE =
  'usage: npm run chaos -- --streams N --seconds S [--backend redis_streams|kafka] [--seed X] [--workers W] ' +
  '[--fault-gap-ms MS]';

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

function parseOptions(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      streams: { type: 'string' },
      seconds: { type: 'string' },
      backend: { type: 'string', default: 'redis_streams' },
      seed: { type: 'string' },
      workers: { type: 'string', default: '2' },
      'fault-gap-ms': { type: 'string', default: '10000' },
    },
    strict: true,
  });
  if (values.streams === undefined || values.seconds === undefined) throw new Error('--streams and --seconds needed');
  if (values.backend !== 'redis_streams' && values.backend !== 'kafka') {
    throw new Error(`--backend must be redis_streams or kafka, got ${values.backend}`);
  }
  return {
    streams: positiveInt('streams', values.streams, 0),
    seconds: positiveInt('seconds', values.seconds, 0),
    backend: values.backend,
    seed: positiveInt('seed', values.seed, Math.floor(Math.random() * 1e9) + 1),
    workers: positiveInt('workers', values.workers, 2),
    faultGapMs: positiveInt('fault-gap-ms', values['fault-gap-ms'], 10_000),
    finishTimeoutMs: 180_000,
    progressEveryMs: 10_000,
    rssEveryMs: 2_000,
  };
}

async function main(): Promise<void> {
  let options: ChaosOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`chaos: ${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const result = await runChaos(options, (line) => console.log(line));
  for (const line of reportLines(result)) console.log(line);
  if (failureReasons(result).length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`chaos: run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
