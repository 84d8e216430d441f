/**
 * The benchmark's arithmetic and report from fixed inputs: options and their
 * quick defaults, the interleaved plan, medians and within-round ratios, and
 * the targets marked met or not met.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchOptions } from '../../bench/bench-options';
import { planRound } from '../../bench/bench-plan';
import { formatReport, type BenchResults } from '../../bench/bench-report';
import { MeasurementIndex, summarize } from '../../bench/bench-stats';
import { specKey, type Measurement, type MeasurementSpec } from '../../bench/measurement';
import type { Variant } from '../../bench/variants';

test('options: a full run by default, a smoke with --quick, usage errors named', () => {
  const full = parseBenchOptions([]);
  assert.deepEqual([full.rounds, full.seconds, full.streams, full.idleStreams], [5, 20, [500, 1000, 2000], 5000]);
  assert.deepEqual(full.scenarios, ['realtime', 'memory', 'maxrate']);
  assert.deepEqual(full.variants, ['floor', 'buffering', 'pipeline', 'in_memory', 'redis_streams']);
  const quick = parseBenchOptions(['--quick', '--variants', 'floor,redis_streams']);
  assert.deepEqual([quick.rounds, quick.streams, quick.idleStreams, quick.memoryStreams], [1, [100], 100, 100]);
  assert.deepEqual(quick.variants, ['floor', 'redis_streams']);
  assert.throws(() => parseBenchOptions(['--variants', 'floor,nginx']), /unknown nginx/);
  assert.throws(() => parseBenchOptions(['--rounds', '0']), /positive integer/);
  assert.throws(() => parseBenchOptions(['--bogus']), /bogus/);
});

test('plan: every scenario in each round, variants turned by one a round, a run done once', () => {
  const options = parseBenchOptions(['--quick', '--variants', 'floor,pipeline,redis_streams']);
  const round0 = planRound(options, 0).map(specKey);
  assert.deepEqual(round0, [
    'realtime/floor/100/w1',
    'realtime/pipeline/100/w1',
    'realtime/redis_streams/100/w1',
    'idle/floor/100/w1',
    // realtime at 100 streams, the streaming-memory run, is already planned
    'idle/pipeline/100/w1',
    'idle/redis_streams/100/w1',
    'maxrate/floor/20/w1',
    'maxrate/pipeline/20/w1',
    'maxrate/redis_streams/20/w1',
    'maxrate/redis_streams/20/w2',
  ]);
  assert.deepEqual(planRound(options, 1).slice(0, 3).map(specKey), [
    'realtime/pipeline/100/w1',
    'realtime/redis_streams/100/w1',
    'realtime/floor/100/w1',
  ]);
  const memoryOnly = parseBenchOptions(['--scenarios', 'memory', '--variants', 'in_memory,pipeline']);
  assert.deepEqual(planRound(memoryOnly, 0).map(specKey), ['idle/pipeline/5000/w1', 'realtime/pipeline/1000/w1']);
});

function run(spec: MeasurementSpec, round: number, figures: Partial<Measurement>): Measurement {
  return {
    spec,
    round,
    windowSeconds: 10,
    framesAcked: 250_000,
    framesPerSecond: 25_000,
    cpuMicrosPerFrame: 1,
    serverCores: 0.25,
    ackP99Ms: 2,
    commitP99Ms: 10,
    oldestCommitP99Ms: 3010,
    rssBeforeKiB: 50_000,
    rssAtKiB: 200_000,
    rssPerStreamKiB: 150,
    streamsStarted: 1000,
    generatorCores: 0.5,
    sendLagP99Ms: 1,
    warnings: [],
    ...figures,
  };
}

const realtime = (variant: Variant): MeasurementSpec => ({ scenario: 'realtime', variant, streams: 1000, workers: 1 });

test('stats: the median and range, and ratios taken within each round', () => {
  assert.deepEqual(summarize([3, 1, 2, NaN]), { median: 2, min: 1, max: 3, n: 3 });
  assert.deepEqual(summarize([4, 1, 2, 3])?.median, 2.5);
  assert.equal(summarize([]), undefined);
  // Round 1 is slow for both: the ratio sees 2x both times, the medians alone would not.
  const index = new MeasurementIndex([
    run(realtime('pipeline'), 0, { cpuMicrosPerFrame: 10 }),
    run(realtime('redis_streams'), 0, { cpuMicrosPerFrame: 20 }),
    run(realtime('pipeline'), 1, { cpuMicrosPerFrame: 30 }),
    run(realtime('redis_streams'), 1, { cpuMicrosPerFrame: 60 }),
  ]);
  const ratio = index.ratio(realtime('redis_streams'), realtime('pipeline'), (m) => m.cpuMicrosPerFrame);
  assert.deepEqual(ratio, { median: 2, min: 2, max: 2, n: 2 });
});

test('report: the machine, the command, the tables, the targets met or not, and the warnings', () => {
  const options = parseBenchOptions(['--rounds', '2', '--streams', '1000', '--idle-streams', '5000']);
  const measurements: Measurement[] = [];
  for (const round of [0, 1]) {
    measurements.push(
      run(realtime('floor'), round, { cpuMicrosPerFrame: 4 }),
      run(realtime('buffering'), round, { cpuMicrosPerFrame: 5 }),
      run(realtime('pipeline'), round, { cpuMicrosPerFrame: 8, ackP99Ms: 2, rssPerStreamKiB: 100 }),
      run(realtime('in_memory'), round, { cpuMicrosPerFrame: 5.1 }),
      run(realtime('redis_streams'), round, {
        cpuMicrosPerFrame: round === 0 ? 8.4 : 9.6,
        ackP99Ms: 4,
        oldestCommitP99Ms: 3040,
        rssPerStreamKiB: 150,
        redisMicrosPerFrame: 2.2,
      }),
      run({ scenario: 'idle', variant: 'redis_streams', streams: 5000, workers: 1 }, round, { rssPerStreamKiB: 21 }),
      run({ scenario: 'maxrate', variant: 'redis_streams', streams: 200, workers: 1 }, round, { framesPerSecond: 1e5 }),
      run({ scenario: 'maxrate', variant: 'redis_streams', streams: 200, workers: 2 }, round, {
        framesPerSecond: 1.9e5,
        ...(round === 1 ? { warnings: ['the generator could not keep the rate (send lag p99 80 ms)'] } : {}),
      }),
    );
  }
  const results: BenchResults = {
    machine: {
      cpuModel: 'Test CPU',
      cores: 8,
      memoryGiB: 32,
      kernel: 'Linux version 6.1',
      node: 'v24.0.0',
      redis: 'v=7',
      openFiles: 65536,
    },
    command: 'npm run bench -- --rounds 2',
    options,
    bufferMs: 3000,
    frameBytes: 320,
    frameMs: 20,
    startedAt: '2026-12-02T03:00:00.000Z',
    minutes: 12,
    measurements,
    failures: [{ spec: realtime('floor'), round: 2, error: 'server did not become ready' }],
  };
  const report = formatReport(results);
  assert.match(report, /Test CPU, 8 cores, 32.0 GiB, Linux version 6.1/);
  assert.match(report, /Command: `npm run bench -- --rounds 2`/);
  // redis_streams: 9.0 µs median [8.4–9.6], 2.25x the floor, 1.125x the pipeline (1.05 and 1.2 in the rounds).
  assert.match(report, /\| redis_streams \| 9.00 \[8.40–9.60\] \| 2.25x \[2.10–2.40\] \| 1.13x \[1.05–1.20\] \|/);
  assert.match(
    report,
    /CPU per frame, redis_streams ≤ 1.1x pipeline \(1000 streams\) \| 1.13x \[1.05–1.20\] \| ≤ 1.1x \| \*\*not met\*\*/,
  );
  assert.match(report, /in_memory ≤ 1.05x buffering .* \| 1.02x \| ≤ 1.05x \| \*\*met\*\*/);
  assert.match(report, /p99 ack latency, redis_streams ≤ 1.25x pipeline .* \| 2.00x \| ≤ 1.25x \| \*\*not met\*\*/);
  assert.match(report, /p99 commit latency \(oldest frame\), .* \| 3040 ms \| ≤ 3050 ms \| \*\*met\*\*/);
  assert.match(
    report,
    /RSS per streaming connection, redis_streams ≤ 1.2x pipeline .* \| 1.50x \| ≤ 1.2x \| \*\*not met\*\*/,
  );
  assert.match(report, /RSS per idle stream, redis_streams ≤ 24 KiB .* \| 21.0 KiB \| ≤ 24 KiB \| \*\*met\*\*/);
  assert.match(report, /2 workers ≥ 1.8x 1 worker \| 1.90x \| ≥ 1.8x \| \*\*met\*\*/);
  assert.match(report, /round 2, maxrate redis_streams 200 streams, 2 workers: the generator could not keep the rate/);
  assert.match(report, /round 3, realtime floor 1000 streams: FAILED: server did not become ready/);
});

test('report: the 2-worker target does not apply where the generator shares a few cores', () => {
  const options = parseBenchOptions(['--scenarios', 'maxrate', '--rounds', '1']);
  const report = formatReport({
    machine: { cpuModel: 'Small', cores: 2, memoryGiB: 4, kernel: 'Linux', node: 'v24', redis: 'v=7', openFiles: 1024 },
    command: 'npm run bench',
    options,
    bufferMs: 3000,
    frameBytes: 320,
    frameMs: 20,
    startedAt: '2026-12-02T03:00:00.000Z',
    minutes: 1,
    measurements: [],
    failures: [],
  });
  assert.match(report, /not applicable: 2 cores shared by 2 workers, Redis and the generator/);
  assert.doesNotMatch(report, /## Real-time streams/);
});
