/**
 * The chaos run's report: per interaction, the faults, worker memory over
 * time, the generator's send lag, what the service logged, and the totals.
 * The last line is the one summary a script greps:
 *   chaos: streams N faults F sent N acked N committed N found N duplicated N lost N
 * and failureReasons() says why the run must exit non-zero (empty: it passed).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FRAME_INTERVAL_MS } from './chaos-frames';
import { describeExit, type ChaosResult } from './chaos-scenario';
import type { InteractionTally } from './chaos-verifier';

/** Up to this many streams, every interaction's line goes to stdout; above, to a file. */
const INLINE_INTERACTIONS = 50;
const RSS_POINTS = 12;

export interface Totals {
  sent: number;
  writes: number;
  acked: number;
  committed: number;
  found: number;
  duplicated: number;
  corrupt: number;
  lost: number;
  outOfOrder: number;
  missingUnconfirmed: number;
  gaveUp: number;
  failed: number;
}

export function totals(result: ChaosResult): Totals {
  const sum: Totals = {
    sent: 0,
    writes: 0,
    acked: 0,
    committed: 0,
    found: 0,
    duplicated: 0,
    corrupt: 0,
    lost: 0,
    outOfOrder: 0,
    missingUnconfirmed: 0,
    gaveUp: 0,
    failed: 0,
  };
  for (const t of result.verdict.interactions) {
    sum.sent += t.sent;
    sum.writes += t.writes;
    sum.acked += t.acked;
    sum.committed += t.committed;
    sum.found += t.found;
    sum.duplicated += t.duplicated;
    sum.corrupt += t.corrupt;
    sum.lost += t.lost;
    sum.outOfOrder += t.outOfOrder;
    sum.missingUnconfirmed += t.missingUnconfirmed;
    if (t.outcome === 'gave_up') sum.gaveUp++;
    if (t.outcome.startsWith('failed')) sum.failed++;
  }
  return sum;
}

/** Why the run failed; empty when nothing committed is missing and every frame found is intact. */
export function failureReasons(result: ChaosResult): string[] {
  const sum = totals(result);
  const reasons: string[] = [];
  if (sum.lost > 0) reasons.push(`${sum.lost} committed frames missing from the backend`);
  if (sum.corrupt > 0) reasons.push(`${sum.corrupt} stored frames are not the bytes sent`);
  if (sum.outOfOrder > 0) {
    reasons.push(`${sum.outOfOrder} frames stored after a higher seq of their interaction (a consumer skips them)`);
  }
  if (result.verdict.strayRecords > 0) reasons.push(`${result.verdict.strayRecords} unreadable or foreign records`);
  if (sum.failed > 0) reasons.push(`${sum.failed} streams met a protocol answer a client cannot resume after`);
  if (sum.gaveUp > 0) reasons.push(`${sum.gaveUp} streams never finished (stopped) after the load ended`);
  return reasons;
}

function interactionLine(t: InteractionTally): string {
  const closes = [...t.closes].map(([code, n]) => `${code}x${n}`).join(' ');
  return (
    `${t.interactionId} sent ${t.sent} writes ${t.writes} acked ${t.acked} committed ${t.committed} ` +
    `found ${t.found} duplicated ${t.duplicated} lost ${t.lost} corrupt ${t.corrupt} out-of-order ${t.outOfOrder} ` +
    `unconfirmed-missing ${t.missingUnconfirmed} connections ${t.connections} ${t.outcome} closes ${closes}`
  );
}

function rssOverTime(result: ChaosResult): string[] {
  const samples = result.rss;
  if (samples.length === 0) return ['chaos: worker RSS: no samples'];
  const step = Math.max(1, Math.floor(samples.length / RSS_POINTS));
  const lines = ['chaos: worker RSS over time (MiB, each live worker; primary; workers heap used + external, summed):'];
  for (let i = 0; i < samples.length; i += step) {
    const s = samples[i];
    const workers = s.workers.map((w) => w.rssMiB.toFixed(0)).join('/');
    const heap =
      s.heapUsedMiB === undefined ? '' : ` heap ${s.heapUsedMiB.toFixed(0)} external ${s.externalMiB?.toFixed(0)}`;
    lines.push(`chaos:   t=${s.atS.toFixed(0)}s workers ${workers || '-'} primary ${s.primaryMiB.toFixed(0)}${heap}`);
  }
  const peak = Math.max(0, ...samples.flatMap((s) => s.workers.map((w) => w.rssMiB)));
  lines.push(`chaos:   peak worker RSS ${peak.toFixed(0)} MiB`);
  return lines;
}

/** Every line of the report, the summary last. */
export function reportLines(result: ChaosResult): string[] {
  const { verdict, options } = result;
  const sum = totals(result);
  const lines: string[] = [];
  const all = verdict.interactions.map(interactionLine);
  const troubled = verdict.interactions
    .filter((t) => t.lost > 0 || t.corrupt > 0 || t.outOfOrder > 0 || t.outcome !== 'done')
    .map(interactionLine);
  if (all.length <= INLINE_INTERACTIONS) {
    lines.push('chaos: per interaction:', ...all.map((l) => `chaos:   ${l}`));
  } else {
    const file = path.join(path.dirname(result.logPath), 'interactions.txt');
    writeFileSync(file, `${all.join('\n')}\n`);
    lines.push(`chaos: per interaction: ${file}`);
    lines.push(...troubled.slice(0, 50).map((l) => `chaos:   ${l}`));
  }
  const byKind = [...result.faultCounts].map(([kind, n]) => `${kind} ${n}`).join(', ');
  lines.push(`chaos: faults ${result.faults.length}: ${byKind}`);
  lines.push(...rssOverTime(result));
  lines.push(
    `chaos: send lag (how late the generator's 20 ms ticks ran): p99 ${result.lag.p99Ms.toFixed(0)} ms, ` +
      `max ${result.lag.maxMs.toFixed(0)} ms; ${result.lag.ticks} ticks ran of ` +
      `${Math.round((result.loadS * 1000) / FRAME_INTERVAL_MS)} (a late tick sends all that fell due)`,
  );
  lines.push(
    `chaos: CPU while the load ran (% of one core): generator ${result.cpu.generatorPct.toFixed(0)}, ` +
      `service ${result.cpu.servicePct.toFixed(0)}; machine load average ${result.cpu.loadAvgMin.toFixed(1)}` +
      `-${result.cpu.loadAvgMax.toFixed(1)} on ${os.cpus().length} CPUs`,
  );
  lines.push(
    `chaos: load ${result.loadS.toFixed(0)} s, run ${result.totalS.toFixed(0)} s; frames written ${sum.writes} ` +
      `(re-sent after resumes: ${sum.writes - sum.sent}); records read ${verdict.records}`,
  );
  for (const [what, n] of [...result.serviceProblems].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    lines.push(`chaos: service logged ${n}x ${what}`);
  }
  lines.push(`chaos: service ${describeExit(result.serviceExit)}; log ${result.logPath}`);
  for (const problem of verdict.problems) lines.push(`chaos: stray record: ${problem}`);
  lines.push(
    `chaos: corrupt ${sum.corrupt} out-of-order ${sum.outOfOrder} stray ${verdict.strayRecords} ` +
      `unconfirmed-missing ${sum.missingUnconfirmed} gave-up ${sum.gaveUp} failed ${sum.failed}`,
  );
  for (const reason of failureReasons(result)) lines.push(`chaos: FAILED: ${reason}`);
  lines.push(
    `chaos: streams ${options.streams} faults ${result.faults.length} sent ${sum.sent} acked ${sum.acked} ` +
      `committed ${sum.committed} found ${sum.found} duplicated ${sum.duplicated} lost ${sum.lost}`,
  );
  return lines;
}
