/**
 * The human side of the load generator's output, on stderr: the live progress
 * line (a terminal only) and the final table.
 */
import type { LatencySummary } from './latency-histogram';
import { verifyFailed, type LoadgenReport } from './loadgen-report';
import type { PartitionTally } from './partition-spread';

export interface ProgressFigures {
  readonly elapsedS: number;
  readonly streamsOpen: number;
  readonly framesPerS: number;
  readonly acksPerS: number | null;
  readonly ackP99Ms: number | null;
  readonly errors: number;
}

export function progressLine(p: ProgressFigures): string {
  const acks = p.acksPerS === null ? 'acks/s n/a' : `acks/s ${Math.round(p.acksPerS)}`;
  const p99 = p.ackP99Ms === null ? 'ack p99 n/a' : `ack p99 ${p.ackP99Ms} ms`;
  const frames = `frames/s ${Math.round(p.framesPerS)}`;
  return `${p.elapsedS.toFixed(0)} s  streams open ${p.streamsOpen}  ${frames}  ${acks}  ${p99}  errors ${p.errors}`;
}

function latency(l: LatencySummary | null): string {
  return l === null
    ? 'n/a (no confirmations in this dialect)'
    : `p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max} ms  (${l.count})`;
}

function counts(c: Record<string, number>): string {
  const entries = Object.entries(c);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}: ${v}`).join(', ');
}

/** Partitions listed on one line of the table's spread. */
const PARTITIONS_PER_ROW = 6;

/** The Kafka read-back's spread: a summary row, then `partition: records/interactions`, a few to a row. */
function partitionRows(partitions: readonly PartitionTally[]): Array<[string, string]> {
  if (partitions.length === 0) return [];
  const used = partitions.filter((p) => p.records > 0).length;
  const interactions = partitions.map((p) => p.interactions);
  const mean = interactions.reduce((a, b) => a + b, 0) / Math.max(1, partitions.length);
  const rows: Array<[string, string]> = [
    [
      'partitions',
      `${used} of ${partitions.length} used; interactions per partition min ${Math.min(...interactions)}, ` +
        `mean ${mean.toFixed(1)}, max ${Math.max(...interactions)} (partition: records/interactions)`,
    ],
  ];
  for (let i = 0; i < partitions.length; i += PARTITIONS_PER_ROW) {
    const line = partitions
      .slice(i, i + PARTITIONS_PER_ROW)
      .map((p) => `${p.partition}: ${p.records}/${p.interactions}`);
    rows.push(['', line.join('  ')]);
  }
  return rows;
}

export function reportTable(r: LoadgenReport): string {
  const na = (n: number | null): string => (n === null ? 'n/a' : String(n));
  const rows: Array<[string, string]> = [
    ['streams', `${r.streams_started} started of ${r.streams_requested}, ${r.streams_failed} failed`],
    [
      'frames',
      `${r.frames_sent} sent (${r.frames_resent} re-sent), ${na(r.frames_acked)} acked, ` +
        `${na(r.frames_committed)} committed`,
    ],
    ['lost frames', r.lost_frames === null ? 'unknown (no confirmations; use --verify)' : String(r.lost_frames)],
    ['ack latency', latency(r.ack_latency_ms)],
    ['commit latency', latency(r.commit_latency_ms)],
    ['oldest frame commit', latency(r.oldest_frame_commit_latency_ms)],
    [
      'send lag',
      `p50 ${r.send_lag_ms.p50}  p99 ${r.send_lag_ms.p99}  max ${r.send_lag_ms.max} ms; ` +
        `rate kept: ${r.rate_kept ? 'yes' : 'NO'}`,
    ],
    [
      'window',
      `${r.measure.seconds} s: ${r.measure.frames_sent} sent, ${na(r.measure.frames_acked)} acked, ` +
        `${na(r.measure.frames_committed)} committed`,
    ],
    ['window ack', latency(r.measure.ack_latency_ms)],
    ['window commit', latency(r.measure.commit_latency_ms)],
    ['window oldest commit', latency(r.measure.oldest_frame_commit_latency_ms)],
    [
      'window send lag',
      `p50 ${r.measure.send_lag_ms.p50}  p99 ${r.measure.send_lag_ms.p99}  max ${r.measure.send_lag_ms.max} ms`,
    ],
    ['refused', counts(r.refused)],
    ['failed connections', String(r.failed_connections)],
    ['closes', counts(r.closes)],
    ['resumes', String(r.resumes)],
  ];
  if (verifyFailed(r.verify)) rows.push(['verify', `failed: ${r.verify.error.message}`]);
  else if (r.verify) {
    const v = r.verify;
    const found = `${v.records} records, ${v.frames_found} frames found`;
    const missing = `${v.missing} missing (${v.missing_committed} committed)`;
    const odd = `${v.duplicated} duplicated, ${v.out_of_order} out of order, ${v.corrupt} corrupt`;
    rows.push(['verify', `${found}, ${missing}, ${odd}, ${v.unreadable} unreadable`]);
    if (v.partitions) rows.push(...partitionRows(v.partitions));
  }
  const failed = r.per_stream.filter((s) => s.outcome !== 'done');
  for (const s of failed.slice(0, 10)) rows.push(['stream', `${s.interaction_id}: ${s.outcome}`]);
  if (failed.length > 10) rows.push(['stream', `… and ${failed.length - 10} more not done`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
