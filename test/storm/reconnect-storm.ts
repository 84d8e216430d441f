/**
 * The reconnect storm (issue 10): N streams run at a steady pace, all their
 * connections are dropped in the same instant, and every one reconnects at
 * once and resumes from last committed + 1. Measures how long the
 * reconnections take and the ack latency before the drop, during the storm
 * and after it, and when latency was back to its level before.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { listenOverflows } from './listen-overflows';
import { StormStream, type AckSample } from './storm-stream';

export interface StormOptions {
  readonly url: string;
  readonly token: string;
  readonly streams: number;
  readonly ackInterval: number;
  /** One batch of ackInterval frames per stream every paceMs. */
  readonly paceMs: number;
  readonly frameSize: number;
  /** Initial connections opened at once (the storm itself opens all of them at once). */
  readonly connectConcurrency: number;
  /** Steady load measured before the drop. */
  readonly beforeMs: number;
  /** Load kept running after the last reconnection, to see latency settle. */
  readonly afterMs: number;
  /** Deadline for every stream to reconnect. */
  readonly reconnectDeadlineMs: number;
}

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface StormReport {
  readonly streams: number;
  readonly ackInterval: number;
  readonly paceMs: number;
  readonly initialConnectMs: number;
  /** Per stream, from the drop to `started` on its new connection. */
  readonly reconnect: Percentiles;
  /** Per stream, from the drop to the completed WebSocket handshake. */
  readonly handshake: Percentiles;
  readonly connectAttempts: number;
  /** Connections the kernel dropped from a full accept queue during the storm (machine-wide; -1: unknown). */
  readonly listenOverflows: number;
  readonly abandonedConnects: number;
  readonly before: Percentiles;
  /** Batches sent from the drop until a second after the last reconnection. */
  readonly during: Percentiles;
  /** Batches sent in the last 3 s of the run. */
  readonly after: Percentiles;
  /** From the drop to the start of the first 500 ms window after which no window's p99 exceeds `threshold`. */
  readonly recoveryMs: number;
  readonly recoveryThresholdMs: number;
}

const WINDOW_MS = 500;
const AFTER_WINDOW_MS = 3000;

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
  return { count: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? 0) };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function between(samples: readonly AckSample[], from: number, to: number): number[] {
  return samples.filter((s) => s.at >= from && s.at < to).map((s) => s.latencyMs);
}

async function until(check: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`storm: ${what} not within ${deadlineMs} ms`);
    await delay(20);
  }
}

/** Runs the storm; the caller stops (or closes) the returned streams. */
export async function runStorm(options: StormOptions): Promise<{ report: StormReport; streams: StormStream[] }> {
  const streams = Array.from(
    { length: options.streams },
    (_, index) =>
      new StormStream({
        url: options.url,
        token: options.token,
        index,
        ackInterval: options.ackInterval,
        paceMs: options.paceMs,
        frameSize: options.frameSize,
        connectTimeoutMs: options.reconnectDeadlineMs,
      }),
  );
  const connectStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: options.connectConcurrency }, async () => {
      while (next < streams.length) await streams[next++].connect();
    }),
  );
  const initialConnectMs = performance.now() - connectStart;
  // Every stream has had an ack, then the steady window.
  await until(
    () => streams.every((s) => s.samples.length > 0),
    options.paceMs * 10 + 30_000,
    'a first ack on every stream',
  );
  await delay(options.beforeMs);

  const overflowsBefore = listenOverflows();
  const dropAt = performance.now();
  for (const s of streams) s.drop();
  await until(
    () => streams.every((s) => s.startedAt > dropAt),
    options.reconnectDeadlineMs,
    'every stream reconnected',
  );
  const overflowsAfter = listenOverflows();
  const reconnects = streams.map((s) => s.startedAt - dropAt);
  const lastReconnect = Math.max(...reconnects);
  await delay(lastReconnect < options.afterMs ? options.afterMs : AFTER_WINDOW_MS);
  const end = performance.now();

  const samples = streams.flatMap((s) => s.samples);
  const before = percentiles(between(samples, dropAt - options.beforeMs, dropAt));
  // 250 ms of slack: on shared cores a quiet p99 of a few ms doubles from scheduling noise alone.
  const threshold = Math.max(2 * before.p99, before.p99 + 250);
  let recoveryMs = 0;
  for (let from = dropAt; from < end - WINDOW_MS; from += WINDOW_MS) {
    const window = percentiles(between(samples, from, from + WINDOW_MS));
    if (window.count > 0 && window.p99 > threshold) recoveryMs = from + WINDOW_MS - dropAt;
  }
  const report: StormReport = {
    streams: streams.length,
    ackInterval: options.ackInterval,
    paceMs: options.paceMs,
    initialConnectMs: round(initialConnectMs),
    reconnect: percentiles(reconnects),
    handshake: percentiles(streams.map((s) => s.openedAt - dropAt)),
    connectAttempts: streams.reduce((n, s) => n + s.connections, 0),
    listenOverflows:
      overflowsBefore !== undefined && overflowsAfter !== undefined ? overflowsAfter - overflowsBefore : -1,
    abandonedConnects: streams.reduce((n, s) => n + s.failedConnects, 0),
    before,
    during: percentiles(between(samples, dropAt, dropAt + lastReconnect + 1000)),
    after: percentiles(between(samples, end - AFTER_WINDOW_MS, end)),
    recoveryMs: round(recoveryMs),
    recoveryThresholdMs: round(threshold),
  };
  return { report, streams };
}

/** The report as the lines the test and `npm run storm` print. */
export function describeStorm(r: StormReport): string {
  const p = (x: Percentiles): string => `p50 ${x.p50} ms p99 ${x.p99} ms max ${x.max} ms (n=${x.count})`;
  return [
    `storm: ${r.streams} streams, ${r.ackInterval} frames per ${r.paceMs} ms each ` +
      `(${Math.round((r.streams * r.ackInterval * 1000) / r.paceMs)} frames/s), ` +
      `initial connect ${r.initialConnectMs} ms`,
    `storm: reconnect after the drop ${p(r.reconnect)}; ` +
      `${r.connectAttempts} connections, ${r.abandonedConnects} abandoned, ` +
      `${r.listenOverflows} dropped from a full accept queue`,
    `storm: handshake done after the drop ${p(r.handshake)}`,
    `storm: ack latency before ${p(r.before)}`,
    `storm: ack latency during ${p(r.during)}`,
    `storm: ack latency after ${p(r.after)}`,
    `storm: recovered (every 500 ms window p99 <= ${r.recoveryThresholdMs} ms) ${r.recoveryMs} ms after the drop`,
  ].join('\n');
}
