/**
 * `node dist/bench/profile-layers.js [--window SERVER.log] FILE.cpuprofile…`:
 * where a server's busy CPU went, by layer (ws, Node's core, socket writes,
 * the garbage collector, ioredis, the service's own folders…), from the
 * `.cpuprofile` files that `BENCH_SERVER_NODE_OPTIONS="--cpu-prof
 * --cpu-prof-dir=DIR"` leaves (docs/benchmarks.md, "Where the cost goes").
 * Self time of each sample, idle left out; a service's top own functions
 * follow. With --window, only the samples inside the measurement window that
 * the benchmark noted in that server's log count: a profile otherwise covers
 * the server's start, the ramp and the stop as well.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}

/** The parts of V8's .cpuprofile format used here. */
export interface CpuProfile {
  /** Microseconds on the monotonic clock (CLOCK_MONOTONIC, as process.hrtime). */
  readonly startTime: number;
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: CallFrame }>;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface LayerSummary {
  /** Busy microseconds (idle left out). */
  readonly busyMicros: number;
  /** Microseconds by layer, largest first. */
  readonly layers: ReadonlyArray<readonly [layer: string, micros: number]>;
  /** The service's (or a reference server's) own functions, largest first. */
  readonly ownFunctions: ReadonlyArray<readonly [fn: string, micros: number]>;
}

/** A stretch of the monotonic clock, in microseconds. */
export interface TimeWindow {
  readonly fromMicros: number;
  readonly toMicros: number;
}

const WINDOW_NOTE = /^bench: loadgen (measuring|measured) at monotonic (\d+) us$/;

/** The line the benchmark adds to a server's log at each edge of the window (`ns`: process.hrtime.bigint()). */
export function windowNote(marker: 'measuring' | 'measured', ns: bigint): string {
  return `bench: loadgen ${marker} at monotonic ${ns / 1000n} us`;
}

/** The measurement window noted in a server's log; undefined when the log lacks either edge. */
export function windowOfLog(log: string): TimeWindow | undefined {
  const at: Record<string, number> = {};
  for (const line of log.split('\n')) {
    const m = WINDOW_NOTE.exec(line.trim());
    if (m) at[m[1]] = Number(m[2]);
  }
  const [fromMicros, toMicros] = [at.measuring, at.measured];
  return fromMicros !== undefined && toMicros !== undefined ? { fromMicros, toMicros } : undefined;
}

const SOCKET_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String']);
const PACKAGES: ReadonlyArray<readonly [RegExp, string]> = [
  [/node_modules\/ws\//, 'ws'],
  [/node_modules\/(ioredis|@ioredis|redis-parser|denque|cluster-key-slot|standard-as-callback)\//, 'ioredis'],
  [/node_modules\/kafkajs\//, 'kafkajs'],
  [/node_modules\/(pino|sonic-boom|thread-stream|fast-redact|quick-format-unescaped)/, 'pino'],
  [/node_modules\/prom-client\//, 'prom-client'],
  [/node_modules\//, 'other packages'],
];
const OWN = /\/(src|bench)\/(?:(worker|shared|primary|client)\/([^/]+)|(reference)\/)/;

/** The layer a sample's function belongs to; `own` is true for the service's and the reference servers' code. */
export function layerOf(frame: CallFrame): { layer: string; own: boolean } {
  const { functionName: name, url } = frame;
  if (name === '(garbage collector)') return { layer: 'V8 garbage collector', own: false };
  if (name === '(program)') return { layer: 'V8 and native code outside JS (program)', own: false };
  if (url === '') return { layer: SOCKET_WRITES.has(name) ? 'socket writes' : 'other native', own: false };
  for (const [pattern, layer] of PACKAGES) if (pattern.test(url)) return { layer, own: false };
  if (url.startsWith('node:') || !url.includes('/'))
    return { layer: 'Node.js core (net, streams, events, timers)', own: false };
  const own = OWN.exec(url);
  if (own?.[4]) return { layer: 'reference server', own: true };
  if (own?.[1] === 'src') {
    const folder = own[3].endsWith('.js') ? own[2] : `${own[2]}/${own[3]}`;
    return { layer: `service: ${folder}`, own: true };
  }
  return { layer: 'other', own: false };
}

export function summarize(profiles: readonly CpuProfile[], window?: TimeWindow): LayerSummary {
  const layers = new Map<string, number>();
  const ownFunctions = new Map<string, number>();
  let busyMicros = 0;
  for (const profile of profiles) {
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const micros = profile.timeDeltas[i] ?? 0;
      at += micros;
      if (window && (at < window.fromMicros || at > window.toMicros)) return;
      const frame = frames.get(id);
      if (!frame || frame.functionName === '(idle)') return;
      busyMicros += micros;
      const { layer, own } = layerOf(frame);
      layers.set(layer, (layers.get(layer) ?? 0) + micros);
      if (own) {
        const fn = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}`;
        ownFunctions.set(fn, (ownFunctions.get(fn) ?? 0) + micros);
      }
    });
  }
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]);
  return { busyMicros, layers: sorted(layers), ownFunctions: sorted(ownFunctions) };
}

const USAGE = 'usage: node dist/bench/profile-layers.js [--window SERVER.log] FILE.cpuprofile…\n';

function main(args: readonly string[]): void {
  const windowAt = args.indexOf('--window');
  const logPath = windowAt >= 0 ? args[windowAt + 1] : undefined;
  const files = windowAt >= 0 ? args.filter((_, i) => i !== windowAt && i !== windowAt + 1) : args;
  if (files.length === 0 || (windowAt >= 0 && logPath === undefined)) {
    process.stderr.write(USAGE);
    process.exitCode = 2;
    return;
  }
  const window = logPath === undefined ? undefined : windowOfLog(readFileSync(logPath, 'utf8'));
  if (logPath !== undefined && window === undefined) {
    process.stderr.write(`profile-layers: ${logPath} notes no measurement window (both "bench: loadgen …" lines)\n`);
    process.exitCode = 2;
    return;
  }
  const summary = summarize(
    files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile),
    window,
  );
  const row = (name: string, micros: number): string =>
    `| ${name} | ${(micros / 1000).toFixed(0)} | ${((100 * micros) / summary.busyMicros).toFixed(1)}% |`;
  const lines = [
    `busy CPU ${(summary.busyMicros / 1000).toFixed(0)} ms` +
      (window ? ` in the window of ${((window.toMicros - window.fromMicros) / 1e6).toFixed(1)} s` : ''),
    '',
    '| layer | ms | share |',
    '|---|---|---|',
  ];
  for (const [layer, micros] of summary.layers) lines.push(row(layer, micros));
  lines.push('', '| own function | ms | share |', '|---|---|---|');
  for (const [fn, micros] of summary.ownFunctions.slice(0, 10)) lines.push(row(fn, micros));
  process.stdout.write(lines.join('\n') + '\n');
}

if (require.main === module) main(process.argv.slice(2));
