/**
 * The report's verdicts as pure logic: frames stored out of order fail the
 * run (a consumer deduplicating by high-water mark skips them), a failed
 * read-back fails it, and `rate_kept` is judged on the window's send lag,
 * not on the ramp's; a Kafka read-back's spread over partitions is in the
 * report and its table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamResult } from '../../../src/client/loadgen/load-stream';
import { LoadTally } from '../../../src/client/loadgen/load-tally';
import { buildReport, exitStatusOf, type ReportInput } from '../../../src/client/loadgen/loadgen-report';
import { reportTable } from '../../../src/client/loadgen/report-table';
import { cleanVerify } from './clean-verify';

const WINDOW = { start: 1000, end: 2000 };

const STREAM: StreamResult = {
  interaction_id: 'r-0',
  index: 0,
  sent: 50,
  written: 50,
  acked: 50,
  committed: 50,
  closes: { 1000: 1 },
  connections: 1,
  outcome: 'done',
};

const CLEAN = cleanVerify(5, 50);

function input(tally: LoadTally, verify?: ReportInput['verify']): ReportInput {
  return {
    streamsRequested: 1,
    frameMs: 20,
    realTime: true,
    confirmed: true,
    measuredSeconds: 1,
    tallies: [tally.snapshot()],
    streams: [STREAM],
    verify,
  };
}

test('frames stored out of order fail the run (exit 1) with a warning; a clean read-back passes', () => {
  const tally = new LoadTally(WINDOW);
  assert.equal(exitStatusOf(buildReport(input(tally, CLEAN))), 0);
  const report = buildReport(input(tally, { ...CLEAN, out_of_order: 2 }));
  assert.equal(exitStatusOf(report), 1);
  assert.ok(
    report.warnings.some((w) => /2 frames were stored after a higher seq/.test(w)),
    report.warnings.join(),
  );
});

test('a read-back that failed fails the run and keeps its error in the report', () => {
  const report = buildReport(input(new LoadTally(WINDOW), { error: { code: 'ECONNREFUSED', message: 'no redis' } }));
  assert.deepEqual(report.verify, { error: { code: 'ECONNREFUSED', message: 'no redis' } });
  assert.equal(report.lost_frames, 0);
  assert.equal(exitStatusOf(report), 1);
});

test('rate_kept is judged on the window: a slow ramp does not fail it, a slow window does', () => {
  const rampSlow = new LoadTally(WINDOW);
  for (let i = 0; i < 100; i++) rampSlow.sendLag(500, 40); // during the ramp: token signing, connecting
  for (let i = 0; i < 100; i++) rampSlow.sendLag(1500, 1);
  const kept = buildReport(input(rampSlow));
  assert.equal(kept.rate_kept, true);
  assert.equal(kept.send_lag_ms.max, 40, 'the whole run still shows the ramp lag');
  assert.equal(kept.measure.send_lag_ms.max, 1);

  const windowSlow = new LoadTally(WINDOW);
  for (let i = 0; i < 100; i++) windowSlow.sendLag(1500, 30);
  const lost = buildReport(input(windowSlow));
  assert.equal(lost.rate_kept, false);
  assert.ok(lost.warnings.some((w) => /could not keep the requested rate/.test(w)));
});

test("the table shows a Kafka read-back's spread: partitions used, then records/interactions per partition", () => {
  const partitions = Array.from({ length: 8 }, (_, partition) => ({
    partition,
    records: partition === 5 ? 0 : 10 + partition,
    interactions: partition === 5 ? 0 : 2,
  }));
  const report = buildReport(input(new LoadTally(WINDOW), { ...CLEAN, partitions }));
  assert.deepEqual(report.verify, { ...CLEAN, partitions }, 'the --json report carries verify.partitions');
  const rows = reportTable(report).split('\n');
  const at = rows.findIndex((r) => r.startsWith('partitions'));
  assert.match(
    rows[at],
    /7 of 8 used; interactions per partition min 0, mean 1\.8, max 2 \(partition: records\/interactions\)/,
  );
  assert.match(rows[at + 1], /^\s+0: 10\/2 {2}1: 11\/2 {2}2: 12\/2 {2}3: 13\/2 {2}4: 14\/2 {2}5: 0\/0$/);
  assert.match(rows[at + 2], /^\s+6: 16\/2 {2}7: 17\/2$/);
  assert.ok(!reportTable(buildReport(input(new LoadTally(WINDOW), CLEAN))).includes('partitions'), 'Redis: no spread');
});
