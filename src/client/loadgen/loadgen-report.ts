/**
 * The load generator's report (docs/loadgen.md, "Report"): the threads'
 * tallies added up, the streams' results, the read-back's verdict, as the
 * snake_case object `--json` prints; the verdict (`rate_kept`, loss) and the
 * exit status that follow from it.
 */
import { LatencyHistogram, type LatencySummary } from './latency-histogram';
import type { StreamResult } from './load-stream';
import type { TallySnapshot } from './load-tally';
import type { VerifySummary } from './frame-verifier';

/** A read-back that could not be done: the report says why (and the run exits 1). */
export interface VerifyFailure {
  readonly error: { readonly code: string; readonly message: string };
}

export type VerifyOutcome = VerifySummary | VerifyFailure;

export function verifyFailed(verify: VerifyOutcome | undefined): verify is VerifyFailure {
  return verify !== undefined && 'error' in verify;
}

export interface ReportInput {
  readonly streamsRequested: number;
  readonly frameMs: number;
  /** Whether the run had a clock to keep (not --max-rate, not --idle). */
  readonly realTime: boolean;
  /** Whether the dialect gets acks and commits (native) or nothing (telephony). */
  readonly confirmed: boolean;
  readonly measuredSeconds: number;
  readonly tallies: readonly TallySnapshot[];
  readonly streams: readonly StreamResult[];
  readonly verify?: VerifyOutcome;
}

export interface LoadgenReport {
  readonly streams_requested: number;
  readonly streams_started: number;
  readonly streams_failed: number;
  readonly frames_sent: number;
  readonly frames_resent: number;
  readonly frames_acked: number | null;
  readonly frames_committed: number | null;
  readonly lost_frames: number | null;
  readonly ack_latency_ms: LatencySummary | null;
  readonly commit_latency_ms: LatencySummary | null;
  /** From the oldest frame each `committed` newly confirms: buffering plus publishing. */
  readonly oldest_frame_commit_latency_ms: LatencySummary | null;
  readonly send_lag_ms: LagSummary;
  readonly rate_kept: boolean;
  readonly refused: Record<string, number>;
  readonly failed_connections: number;
  readonly closes: Record<string, number>;
  readonly resumes: number;
  /** Acks and commits whose frame's send time was no longer known (--max-rate only): no latency sample. */
  readonly latency_samples_missing: number;
  readonly measure: {
    readonly seconds: number;
    readonly frames_sent: number;
    readonly frames_acked: number | null;
    readonly frames_committed: number | null;
    readonly ack_latency_ms: LatencySummary | null;
    readonly commit_latency_ms: LatencySummary | null;
    readonly oldest_frame_commit_latency_ms: LatencySummary | null;
    readonly send_lag_ms: LagSummary;
  };
  readonly warnings: string[];
  readonly per_stream: Array<{
    readonly interaction_id: string;
    readonly sent: number;
    readonly acked: number | null;
    readonly committed: number | null;
    readonly closes: Record<string, number>;
    readonly outcome: string;
  }>;
  readonly verify?: VerifyOutcome;
}

export interface LagSummary {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function lagOf(histogram: LatencyHistogram): LagSummary {
  const { p50, p99, max } = histogram.summary();
  return { p50, p99, max };
}

function merged(tallies: readonly TallySnapshot[], pick: (t: TallySnapshot) => Float64Array): LatencyHistogram {
  const histogram = new LatencyHistogram();
  for (const tally of tallies) histogram.add(pick(tally));
  return histogram;
}

function sum(tallies: readonly TallySnapshot[], pick: (t: TallySnapshot) => number): number {
  return tallies.reduce((n, t) => n + pick(t), 0);
}

function addCounts(
  tallies: readonly TallySnapshot[],
  pick: (t: TallySnapshot) => Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tally of tallies) for (const [k, v] of Object.entries(pick(tally))) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Send lag over this share of a frame interval (p99) means the offered load was not real time. */
export const LAG_LIMIT_SHARE = 0.5;

export function buildReport(input: ReportInput): LoadgenReport {
  const { tallies, streams, confirmed } = input;
  const lag = merged(tallies, (t) => t.lag);
  const windowLag = merged(tallies, (t) => t.windowLag);
  // Judged on the window: the ramp's connecting and token signing are not the load being measured.
  const judged = windowLag.count > 0 ? windowLag : lag;
  const judgedP99 = judged.summary().p99;
  const lagLimit = input.frameMs * LAG_LIMIT_SHARE;
  const rateKept = !input.realTime || judgedP99 <= lagLimit;
  const warnings: string[] = [];
  if (!rateKept)
    warnings.push(
      `send lag p99 ${judgedP99} ms in the window exceeded ${lagLimit} ms (half a frame interval): the generator ` +
        'could not keep the requested rate, so these figures describe the generator, not the server',
    );
  const failed = streams.filter((s) => s.outcome !== 'done').length;
  const unconfirmed = streams.reduce((n, s) => n + Math.max(0, s.sent - (s.committed ?? s.sent)), 0);
  const verify = verifyFailed(input.verify) ? undefined : input.verify;
  const lost = confirmed ? unconfirmed + (verify?.missing_committed ?? 0) : (verify?.missing ?? null);
  if (verifyFailed(input.verify))
    warnings.push(`the read-back failed (${input.verify.error.code}): ${input.verify.error.message}`);
  if (verify && (verify.foreign > 0 || verify.records_before_run > 0))
    warnings.push(
      `${verify.records_before_run} records and ${verify.foreign} frames under this run's interaction ids ` +
        'came from another run (stored before it began, or another run nonce), reused --interaction-prefix? ' +
        'They were not counted as found',
    );
  if (verify && verify.out_of_order > 0)
    warnings.push(
      `${verify.out_of_order} frames were stored after a higher seq of their interaction: a consumer that ` +
        'deduplicates by high-water mark skips them, so they count as a failure',
    );
  if (!confirmed)
    warnings.push(
      input.verify === undefined
        ? 'telephony streams get no acks or commits and there was no --verify or --verify-kafka: loss is unknown ' +
            '(lost_frames is null)'
        : 'telephony streams get no acks or commits: loss is known only from the read-back',
    );
  return {
    streams_requested: input.streamsRequested,
    streams_started: sum(tallies, (t) => t.streamsStarted),
    streams_failed: failed,
    frames_sent: sum(tallies, (t) => t.framesSent),
    frames_resent: sum(tallies, (t) => t.framesResent),
    frames_acked: confirmed ? sum(tallies, (t) => t.framesAcked) : null,
    frames_committed: confirmed ? sum(tallies, (t) => t.framesCommitted) : null,
    lost_frames: lost,
    ack_latency_ms: confirmed ? merged(tallies, (t) => t.ack).summary() : null,
    commit_latency_ms: confirmed ? merged(tallies, (t) => t.commit).summary() : null,
    oldest_frame_commit_latency_ms: confirmed ? merged(tallies, (t) => t.commitOldest).summary() : null,
    send_lag_ms: lagOf(lag),
    rate_kept: rateKept,
    refused: addCounts(tallies, (t) => t.refused),
    failed_connections: sum(tallies, (t) => t.failedConnections),
    closes: addCounts(tallies, (t) => t.closes),
    resumes: sum(tallies, (t) => t.resumes),
    latency_samples_missing: sum(tallies, (t) => t.latencyMissing),
    measure: {
      seconds: input.measuredSeconds,
      frames_sent: sum(tallies, (t) => t.windowFramesSent),
      frames_acked: confirmed ? sum(tallies, (t) => t.windowFramesAcked) : null,
      frames_committed: confirmed ? sum(tallies, (t) => t.windowFramesCommitted) : null,
      ack_latency_ms: confirmed ? merged(tallies, (t) => t.windowAck).summary() : null,
      commit_latency_ms: confirmed ? merged(tallies, (t) => t.windowCommit).summary() : null,
      oldest_frame_commit_latency_ms: confirmed ? merged(tallies, (t) => t.windowCommitOldest).summary() : null,
      send_lag_ms: lagOf(windowLag),
    },
    warnings,
    per_stream: [...streams]
      .sort((a, b) => a.index - b.index)
      .map((s) => ({
        interaction_id: s.interaction_id,
        sent: s.sent,
        acked: s.acked,
        committed: s.committed,
        closes: s.closes,
        outcome: s.outcome,
      })),
    ...(input.verify ? { verify: input.verify } : {}),
  };
}

/**
 * 0 when no committed frame is missing, none was stored out of order, the
 * read-back (if asked for) worked and no stream failed; else 1 (2, bad usage,
 * is the CLI's).
 */
export function exitStatusOf(report: LoadgenReport): 0 | 1 {
  if (report.streams_failed > 0 || (report.lost_frames ?? 0) > 0) return 1;
  if (verifyFailed(report.verify)) return 1;
  return report.verify && report.verify.out_of_order > 0 ? 1 : 0;
}
