/**
 * One measurement: one variant's server (and its own redis-server) started
 * alone, the load generator run against it, the server tree's CPU and RSS
 * (and Redis's CPU) read from /proc at the generator's phase markers, and
 * everything stopped again. The figures are per frame acked in the window
 * and per stream started, so runs of different sizes compare.
 */
import path from 'node:path';
import { windowNote } from './profile-layers';
import { runLoadgen, type Latency, type LoadgenOutcome, type LoadgenReport, type Marker } from './loadgen-run';
import { PrivateRedis } from './private-redis';
import { processCpuSeconds, treeCpuSeconds, treeRssKiB } from './process-tree';
import { ServerProcess } from './server-process';
import { usesRedis, type Variant } from './variants';

export type Scenario = 'realtime' | 'idle' | 'maxrate';

export interface MeasurementSpec {
  readonly scenario: Scenario;
  readonly variant: Variant;
  readonly streams: number;
  readonly workers: number;
}

/** What every run shares: the key pair, the buffer, the timing, where logs go. */
export interface RunContext {
  readonly publicKeyPem: string;
  readonly privateKeyFile: string;
  readonly bufferMs: number;
  /** The measurement window, in seconds. */
  readonly seconds: number;
  readonly frameBytes: number;
  readonly frameMs: number;
  readonly logDir: string;
}

export interface Measurement {
  readonly spec: MeasurementSpec;
  readonly round: number;
  /** Seconds between the markers, as this process saw them. */
  readonly windowSeconds: number;
  readonly framesAcked: number;
  readonly framesPerSecond: number;
  readonly cpuMicrosPerFrame: number;
  /** Cores the server tree kept busy in the window. */
  readonly serverCores: number;
  /** Its redis-server's CPU per frame, for the Redis variants. */
  readonly redisMicrosPerFrame?: number;
  /** p99 latencies in the window; undefined where the server sent no such message (the floor commits nothing). */
  readonly ackP99Ms?: number;
  /** Of the frame each `committed` names, the newest of its record. */
  readonly commitP99Ms?: number;
  /** Of the oldest frame each `committed` confirms: the buffer's wait plus publishing. */
  readonly oldestCommitP99Ms?: number;
  readonly rssBeforeKiB: number;
  readonly rssAtKiB: number;
  /** (RSS at the end of the window − RSS before the load) / streams started. */
  readonly rssPerStreamKiB: number;
  readonly streamsStarted: number;
  readonly generatorCores: number;
  readonly sendLagP99Ms: number;
  /** What went wrong in the run that a reader must know: rate not kept, failed streams, loss. */
  readonly warnings: readonly string[];
}

export function specKey(spec: MeasurementSpec): string {
  return `${spec.scenario}/${spec.variant}/${spec.streams}/w${spec.workers}`;
}

/** Ramp: 500 upgrades a second, at least 1 s. Warm-up: a whole buffer, so that commits flow in the window. */
export function timingOf(spec: MeasurementSpec, context: RunContext): { ramp: number; warmup: number } {
  const ramp = Math.max(1, Math.ceil(spec.streams / 500));
  const warmup = spec.scenario === 'idle' ? 2 : Math.ceil(context.bufferMs / 1000) + 1;
  return { ramp, warmup };
}

function loadgenArgs(spec: MeasurementSpec, context: RunContext, port: number, prefix: string): string[] {
  const { ramp, warmup } = timingOf(spec, context);
  const args = [
    '--url',
    `ws://127.0.0.1:${port}/v1/ingest`,
    '--streams',
    String(spec.streams),
    '--seconds',
    String(context.seconds),
    '--ramp-seconds',
    String(ramp),
    '--warmup-seconds',
    String(warmup),
    '--private-key',
    context.privateKeyFile,
    '--interaction-prefix',
    prefix,
    '--frame-bytes',
    String(context.frameBytes),
    '--frame-ms',
    String(context.frameMs),
  ];
  if (spec.scenario === 'idle') args.push('--idle');
  if (spec.scenario === 'maxrate') args.push('--max-rate');
  return args;
}

/** p99 of a latency the loadgen measured, when it saw any. */
function p99(latency: Latency | null | undefined): number | undefined {
  return latency && (latency.count ?? 1) > 0 ? latency.p99 : undefined;
}

function warningsOf(report: LoadgenReport, exitCode: number | null): string[] {
  // The loadgen says itself when it fell behind; its words are kept, and said here only when it did not.
  const out: string[] = [...(report.warnings ?? [])];
  if (!report.rate_kept && out.length === 0)
    out.push(`the generator could not keep the rate (send lag p99 ${report.send_lag_ms.p99} ms)`);
  if (report.streams_failed > 0) out.push(`${report.streams_failed} of ${report.streams_requested} streams failed`);
  if ((report.lost_frames ?? 0) > 0) out.push(`${report.lost_frames} frames lost`);
  if (exitCode !== 0 && out.length === 0) out.push(`the generator exited with ${exitCode}`);
  return out;
}

/** The server side at one marker: its tree's CPU and RSS, its Redis's CPU, and when. */
interface Reading {
  readonly cpu: number;
  readonly redisCpu: number;
  readonly rss: number;
  readonly ms: number;
}

/** The run's figures from the two readings, the RSS before the load and the loadgen's outcome. */
function figuresOf(
  spec: MeasurementSpec,
  round: number,
  [measuring, measured]: readonly [Reading, Reading],
  rssBeforeKiB: number,
  outcome: LoadgenOutcome,
): Measurement {
  const { report } = outcome;
  const windowSeconds = (measured.ms - measuring.ms) / 1000;
  const frames = report.measure.frames_acked ?? 0;
  const perFrame = (seconds: number): number => (frames > 0 ? (seconds * 1e6) / frames : NaN);
  return {
    spec,
    round,
    windowSeconds,
    framesAcked: frames,
    framesPerSecond: frames / windowSeconds,
    cpuMicrosPerFrame: perFrame(measured.cpu - measuring.cpu),
    serverCores: (measured.cpu - measuring.cpu) / windowSeconds,
    ...(usesRedis(spec.variant) ? { redisMicrosPerFrame: perFrame(measured.redisCpu - measuring.redisCpu) } : {}),
    ackP99Ms: p99(report.measure.ack_latency_ms),
    commitP99Ms: p99(report.measure.commit_latency_ms),
    oldestCommitP99Ms: p99(report.measure.oldest_frame_commit_latency_ms),
    rssBeforeKiB,
    rssAtKiB: measured.rss,
    rssPerStreamKiB: (measured.rss - rssBeforeKiB) / Math.max(1, report.streams_started),
    streamsStarted: report.streams_started,
    generatorCores: outcome.generatorCpuSeconds / windowSeconds,
    sendLagP99Ms: report.send_lag_ms.p99,
    warnings: warningsOf(report, outcome.exitCode),
  };
}

export async function measure(spec: MeasurementSpec, round: number, context: RunContext): Promise<Measurement> {
  const name = `r${round}-${specKey(spec).replaceAll('/', '-')}`;
  const redis = usesRedis(spec.variant) ? new PrivateRedis() : undefined;
  let server: ServerProcess | undefined;
  try {
    await redis?.start();
    server = new ServerProcess({
      variant: spec.variant,
      workers: spec.workers,
      publicKeyPem: context.publicKeyPem,
      bufferMs: context.bufferMs,
      logPath: path.join(context.logDir, `${name}.log`),
      redisUrl: redis?.url,
    });
    await server.start();
    const pid = server.pid;
    const rssBeforeKiB = treeRssKiB(pid);
    const at: Partial<Record<Marker, Reading>> = {};
    const { ramp, warmup } = timingOf(spec, context);
    const outcome = await runLoadgen(
      loadgenArgs(spec, context, server.port, `bench-${name}`),
      (marker) => {
        // On the monotonic clock a .cpuprofile's timestamps use: profile-layers --window cuts a profile to it.
        server?.note(windowNote(marker, process.hrtime.bigint()));
        at[marker] = {
          cpu: treeCpuSeconds(pid),
          redisCpu: redis ? processCpuSeconds(redis.pid) : 0,
          rss: treeRssKiB(pid),
          ms: performance.now(),
        };
      },
      (ramp + warmup + context.seconds + 120) * 1000,
    );
    // runLoadgen resolves only after both markers were seen.
    return figuresOf(spec, round, [at.measuring!, at.measured!], rssBeforeKiB, outcome);
  } finally {
    await server?.close();
    await redis?.close();
  }
}
