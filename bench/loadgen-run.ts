/**
 * One run of the load generator as a user runs it: `node
 * dist/src/client/loadgen/loadgen-cli.js … --json`, a separate process. Its
 * stderr's phase markers (`loadgen: measuring`, `loadgen: measured`) are
 * when the caller samples the server's CPU and memory; the last stdout line
 * is its JSON report. The generator's own CPU is read at the same moments,
 * so that a report can say how much of the machine the load itself took.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { treeCpuSeconds } from './process-tree';

export const LOADGEN_CLI = path.resolve(__dirname, '..', 'src', 'client', 'loadgen', 'loadgen-cli.js');

export interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly count?: number;
}

/** The fields of the loadgen's --json report the benchmark reads (LOADGEN-CONTRACT: "JSON report"). */
export interface LoadgenReport {
  readonly streams_requested: number;
  readonly streams_started: number;
  readonly streams_failed: number;
  readonly frames_sent: number;
  readonly frames_acked: number | null;
  readonly frames_committed: number | null;
  readonly lost_frames: number | null;
  readonly send_lag_ms: Latency;
  readonly rate_kept: boolean;
  readonly refused?: Record<string, number>;
  readonly failed_connections?: number;
  readonly closes?: Record<string, number>;
  readonly warnings?: readonly string[];
  /** Null where the dialect gets no confirmations (telephony); the benchmark drives native streams. */
  readonly measure: {
    readonly seconds: number;
    readonly frames_sent: number;
    readonly frames_acked: number | null;
    readonly frames_committed: number | null;
    readonly ack_latency_ms: Latency | null;
    /** Latency of the frame each `committed` names (the newest of its record). */
    readonly commit_latency_ms: Latency | null;
    /** Latency of the oldest frame each `committed` newly confirms: buffering plus publishing. */
    readonly oldest_frame_commit_latency_ms?: Latency | null;
  };
}

export type Marker = 'measuring' | 'measured';

export interface LoadgenOutcome {
  readonly report: LoadgenReport;
  readonly exitCode: number | null;
  /** The generator's CPU seconds within the window (between the markers). */
  readonly generatorCpuSeconds: number;
  /** The last lines of its stderr, for a report's warnings. */
  readonly stderrTail: string;
}

/** The last line of `stdout` as the JSON report; throws with the output when there is none. */
export function parseReport(stdout: string, stderr: string): LoadgenReport {
  const last = stdout.trimEnd().split('\n').at(-1) ?? '';
  try {
    const report = JSON.parse(last) as LoadgenReport;
    if (typeof report.measure?.seconds !== 'number') throw new Error('no "measure" section');
    return report;
  } catch (err) {
    throw new Error(`the loadgen printed no JSON report (${String(err)}); stderr: ${stderr.slice(-2000)}`);
  }
}

/**
 * Runs the generator with `args` (plus `--json`) and calls `onMarker` the moment each
 * marker line arrives. Kills it after `timeoutMs`.
 */
export async function runLoadgen(
  args: readonly string[],
  onMarker: (marker: Marker) => void,
  timeoutMs: number,
): Promise<LoadgenOutcome> {
  const child = spawn(process.execPath, [LOADGEN_CLI, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pendingLine = '';
  const cpuAt: Partial<Record<Marker, number>> = {};
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
    pendingLine += chunk;
    const lines = pendingLine.split(/\r?\n|\r/);
    pendingLine = lines.pop() ?? '';
    for (const line of lines) {
      const marker = /^loadgen: (measuring|measured)$/.exec(line.trim())?.[1] as Marker | undefined;
      if (marker === undefined || cpuAt[marker] !== undefined) continue;
      onMarker(marker);
      cpuAt[marker] = child.pid === undefined ? 0 : treeCpuSeconds(child.pid);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  }).finally(() => clearTimeout(timer));
  if (cpuAt.measuring === undefined || cpuAt.measured === undefined) {
    throw new Error(`the loadgen (exit ${exitCode}) never printed both phase markers; stderr: ${stderr.slice(-2000)}`);
  }
  return {
    report: parseReport(stdout, stderr),
    exitCode,
    generatorCpuSeconds: cpuAt.measured - cpuAt.measuring,
    stderrTail: stderr.split('\n').slice(-5).join('\n'),
  };
}
