/**
 * The benchmark's markdown report, from its results alone (a pure function,
 * so it is tested with fixed inputs): the machine and the exact command,
 * one table per scenario with median [range] over rounds and ratios taken
 * within rounds, the targets marked met or not met, and every run's
 * warnings (a generator that fell behind, failed streams, loss).
 */
import type { BenchOptions } from './bench-options';
import { MeasurementIndex, type Metric, type Summary } from './bench-stats';
import type { MachineInfo } from './machine-info';
import type { Measurement, MeasurementSpec } from './measurement';
import { hasMemoryFigure, isService, type Variant } from './variants';

export interface RunFailure {
  readonly spec: MeasurementSpec;
  readonly round: number;
  readonly error: string;
}

export interface BenchResults {
  readonly machine: MachineInfo;
  readonly command: string;
  readonly options: BenchOptions;
  readonly bufferMs: number;
  readonly frameBytes: number;
  readonly frameMs: number;
  readonly startedAt: string;
  readonly minutes: number;
  readonly measurements: readonly Measurement[];
  readonly failures: readonly RunFailure[];
}

const cpu: Metric = (m) => m.cpuMicrosPerFrame;
const ackP99: Metric = (m) => m.ackP99Ms;
const commitP99: Metric = (m) => m.commitP99Ms;
const oldestCommitP99: Metric = (m) => m.oldestCommitP99Ms;
const rssPerStream: Metric = (m) => m.rssPerStreamKiB;
const framesPerSecond: Metric = (m) => m.framesPerSecond;

function num(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** `median [min–max]`, or the median alone when the rounds agree (or there was one); `—` when nothing was measured. */
export function cell(summary: Summary | undefined, suffix = ''): string {
  if (!summary) return '—';
  const median = `${num(summary.median)}${suffix}`;
  const [min, max] = [num(summary.min), num(summary.max)];
  return min === max ? median : `${median} [${min}–${max}]`;
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

interface Target {
  readonly target: string;
  readonly figure: Summary | undefined;
  readonly limit: number;
  readonly unit: string;
  /** A ceiling (the default) or, for a speed-up, a floor. */
  readonly atLeast?: boolean;
  /** Why the verdict does not apply here, when it does not. */
  readonly notApplicable?: string;
}

function verdict(t: Target): string {
  if (t.notApplicable) return `not applicable: ${t.notApplicable}`;
  if (!t.figure) return 'not measured';
  const met = t.atLeast ? t.figure.median >= t.limit : t.figure.median <= t.limit;
  return met ? '**met**' : '**not met**';
}

class ReportWriter {
  private readonly index: MeasurementIndex;
  private readonly lines: string[] = [];
  private readonly targets: Target[] = [];

  constructor(private readonly results: BenchResults) {
    this.index = new MeasurementIndex(results.measurements);
  }

  write(): string {
    this.header();
    this.realtime();
    this.memory();
    this.maxRate();
    this.targetTable();
    this.warnings();
    return `${this.lines.join('\n')}\n`;
  }

  private get variants(): readonly Variant[] {
    return this.results.options.variants;
  }

  private header(): void {
    const { machine, options, command } = this.results;
    this.lines.push(
      '# ingest benchmark',
      '',
      `- Machine: ${machine.cpuModel}, ${machine.cores} cores, ${num(machine.memoryGiB)} GiB, ${machine.kernel}`,
      `- Node.js ${machine.node}; ${machine.redis}; open-files limit ${machine.openFiles}`,
      `- Command: \`${command}\``,
      `- Started ${this.results.startedAt}, took ${num(this.results.minutes)} min; ${options.rounds} interleaved ` +
        `round(s), each run's window ${options.seconds} s; frames of ${this.results.frameBytes} B every ` +
        `${this.results.frameMs} ms; BUFFER_DURATION_MS ${this.results.bufferMs}.`,
      '- Figures: median [min–max] over rounds; a ratio is taken within each round, then its median and range. ' +
        "CPU is the server's whole process tree (user + system, /proc), per frame acked in the window.",
      '',
    );
  }

  private realtime(): void {
    const counts = this.results.options.scenarios.includes('realtime') ? this.results.options.streams : [];
    if (counts.length === 0) return;
    this.lines.push('## Real-time streams', '');
    for (const streams of counts) {
      const spec = (variant: Variant): MeasurementSpec => ({ scenario: 'realtime', variant, streams, workers: 1 });
      const rows = this.variants.map((variant) => {
        const s = spec(variant);
        return [
          variant,
          cell(this.index.summary(s, cpu)),
          cell(this.index.ratio(s, spec('floor'), cpu), 'x'),
          cell(this.index.ratio(s, spec('pipeline'), cpu), 'x'),
          cell(this.index.summary(s, (m) => m.serverCores)),
          cell(this.index.summary(s, ackP99)),
          cell(this.index.ratio(s, spec('pipeline'), ackP99), 'x'),
          cell(this.index.summary(s, commitP99)),
          cell(this.index.summary(s, oldestCommitP99)),
          cell(this.index.summary(s, (m) => m.redisMicrosPerFrame)),
          cell(this.index.summary(s, framesPerSecond)),
        ];
      });
      this.lines.push(
        `### ${streams} streams`,
        '',
        ...table(
          [
            'variant',
            'CPU µs/frame',
            '× floor',
            '× pipeline',
            'server cores',
            'ack p99 ms',
            'ack × pipeline',
            'commit p99 ms',
            'oldest-frame commit p99 ms',
            'redis-server µs/frame',
            'frames/s',
          ],
          rows,
        ),
        '',
      );
      this.targets.push(
        {
          target: `CPU per frame, redis_streams ≤ 1.1x pipeline (${streams} streams)`,
          figure: this.index.ratio(spec('redis_streams'), spec('pipeline'), cpu),
          limit: 1.1,
          unit: 'x',
        },
        {
          target: `CPU per frame, in_memory ≤ 1.05x buffering (floor + the pipeline's buffering; ${streams} streams)`,
          figure: this.index.ratio(spec('in_memory'), spec('buffering'), cpu),
          limit: 1.05,
          unit: 'x',
        },
        {
          target: `p99 ack latency, redis_streams ≤ 1.25x pipeline (${streams} streams)`,
          figure: this.index.ratio(spec('redis_streams'), spec('pipeline'), ackP99),
          limit: 1.25,
          unit: 'x',
        },
        {
          target: `p99 commit latency (oldest frame), redis_streams ≤ BUFFER_DURATION_MS + 50 ms (${streams} streams)`,
          figure: this.index.summary(spec('redis_streams'), oldestCommitP99),
          limit: this.results.bufferMs + 50,
          unit: ' ms',
        },
      );
    }
  }

  private memory(): void {
    if (!this.results.options.scenarios.includes('memory')) return;
    const { idleStreams, memoryStreams } = this.results.options;
    const idle = (variant: Variant): MeasurementSpec => ({
      scenario: 'idle',
      variant,
      streams: idleStreams,
      workers: 1,
    });
    const busy = (variant: Variant): MeasurementSpec => ({
      scenario: 'realtime',
      variant,
      streams: memoryStreams,
      workers: 1,
    });
    const rows = this.variants
      .filter(hasMemoryFigure)
      .map((variant) => [
        variant,
        cell(this.index.summary(idle(variant), rssPerStream)),
        cell(this.index.ratio(idle(variant), idle('pipeline'), rssPerStream), 'x'),
        cell(this.index.summary(busy(variant), rssPerStream)),
        cell(this.index.ratio(busy(variant), busy('pipeline'), rssPerStream), 'x'),
        cell(this.index.summary(busy(variant), (m) => m.rssAtKiB / 1024)),
      ]);
    this.lines.push(
      '## Memory',
      '',
      `Tree RSS at the end of the window minus the tree RSS before the load, over the streams started: ` +
        `${idleStreams} idle streams (\`--idle\`), ${memoryStreams} real-time streams. in_memory is left out: ` +
        'it keeps its last 100,000 records in the worker.',
      '',
      ...table(
        [
          'variant',
          `KiB per idle stream (${idleStreams})`,
          '× pipeline',
          `KiB per streaming connection (${memoryStreams})`,
          '× pipeline',
          'tree RSS MiB, streaming',
        ],
        rows,
      ),
      '',
    );
    this.targets.push(
      {
        target: `RSS per streaming connection, redis_streams ≤ 1.2x pipeline (${memoryStreams} streams)`,
        figure: this.index.ratio(busy('redis_streams'), busy('pipeline'), rssPerStream),
        limit: 1.2,
        unit: 'x',
      },
      {
        target: `RSS per idle stream, redis_streams ≤ 24 KiB (${idleStreams} streams)`,
        figure: this.index.summary(idle('redis_streams'), rssPerStream),
        limit: 24,
        unit: ' KiB',
      },
    );
  }

  private maxRate(): void {
    if (!this.results.options.scenarios.includes('maxrate')) return;
    const streams = this.results.options.maxRateStreams;
    const spec = (variant: Variant, workers: number): MeasurementSpec => ({
      scenario: 'maxrate',
      variant,
      streams,
      workers,
    });
    const rows = this.variants.flatMap((variant) =>
      (isService(variant) ? [1, 2] : [1]).map((workers) => {
        const s = spec(variant, workers);
        return [
          variant,
          String(workers),
          cell(this.index.summary(s, framesPerSecond)),
          cell(this.index.summary(s, (m) => m.framesPerSecond / workers)),
          workers === 1 ? '' : cell(this.index.ratio(s, spec(variant, 1), framesPerSecond), 'x'),
          cell(this.index.summary(s, cpu)),
          cell(this.index.summary(s, (m) => m.serverCores)),
          cell(this.index.summary(s, (m) => m.generatorCores)),
        ];
      }),
    );
    const { cores } = this.results.machine;
    this.lines.push(
      '## Maximum sustained rate',
      '',
      `${streams} streams with \`--max-rate\` (each keeps at most its window of frames unacked). The generator ` +
        `ran on the same machine as the server and Redis: ${cores} cores shared by all of them; its own use is ` +
        'the "generator cores" column.',
      '',
      ...table(
        [
          'variant',
          'workers',
          'frames/s',
          'frames/s per worker',
          '× 1 worker',
          'CPU µs/frame',
          'server cores',
          'generator cores',
        ],
        rows,
      ),
      '',
    );
    // Two workers, Redis and the generator's threads all want a core of their own before 2x can show.
    const shared = cores < 4 ? `${cores} cores shared by 2 workers, Redis and the generator` : undefined;
    this.targets.push({
      target: 'Max frames/s, redis_streams with 2 workers ≥ 1.8x 1 worker',
      figure: this.index.ratio(spec('redis_streams', 2), spec('redis_streams', 1), framesPerSecond),
      limit: 1.8,
      unit: 'x',
      atLeast: true,
      notApplicable: shared,
    });
  }

  private targetTable(): void {
    if (this.targets.length === 0) return;
    const rows = this.targets.map((t) => [
      t.target,
      cell(t.figure, t.unit),
      `${t.atLeast ? '≥' : '≤'} ${t.limit}${t.unit}`,
      verdict(t),
    ]);
    this.lines.push('## Targets (issue 11)', '', ...table(['target', 'figure', 'limit', 'verdict'], rows), '');
  }

  private warnings(): void {
    const lines = [
      ...this.results.measurements.flatMap((m) =>
        m.warnings.map((w) => `- round ${m.round + 1}, ${describe(m.spec)}: ${w}`),
      ),
      ...this.results.failures.map((f) => `- round ${f.round + 1}, ${describe(f.spec)}: FAILED: ${f.error}`),
    ];
    this.lines.push(
      '## Warnings',
      '',
      ...(lines.length > 0 ? lines : ['None: every run kept its rate, lost nothing.']),
      '',
    );
  }
}

function describe(spec: MeasurementSpec): string {
  const workers = spec.workers === 1 ? '' : `, ${spec.workers} workers`;
  return `${spec.scenario} ${spec.variant} ${spec.streams} streams${workers}`;
}

export function formatReport(results: BenchResults): string {
  return new ReportWriter(results).write();
}
