/**
 * The chaos run's short form (docs/reliability.md): 30 real-time streams for
 * 50 s on two workers and a private Redis with appendfsync always, while every
 * kind of fault is injected at least once. Nothing committed may be missing,
 * every stored frame must be the bytes sent, and every stream must end with
 * `stopped`, so that committed equals found (duplicates set aside).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { failureReasons, reportLines, totals } from '../chaos/chaos-report';
import { runChaos } from '../chaos/chaos-scenario';

test(
  'under worker kills, rolling restarts, backend restarts, backend network stalls and cuts and client drops, ' +
    'every committed frame is in the backend, byte-exact',
  { timeout: 180_000 },
  async (t) => {
    const result = await runChaos(
      {
        streams: 30,
        seconds: 50,
        backend: 'redis_streams',
        seed: 20_261_202,
        workers: 2,
        // Every kind goes once in the first round; a 2.5 s mean gap fits them all, with their durations, in 50 s.
        faultGapMs: 2_500,
        finishTimeoutMs: 60_000,
        progressEveryMs: 10_000,
        rssEveryMs: 2_000,
        // A roll's old worker closes its streams with 1012 after 2 s, inside the run, instead of 30 s.
        serviceEnv: { DRAIN_TIMEOUT_MS: '2000' },
      },
      (line) => t.diagnostic(line),
    );
    const report = reportLines(result);
    for (const line of report) t.diagnostic(line);
    for (const [kind, count] of result.faultCounts) assert.ok(count >= 1, `no ${kind} fault was injected`);
    assert.equal(result.faultCounts.size, 6, 'every fault kind is possible with Redis');
    assert.deepEqual(failureReasons(result), [], report.slice(-12).join('\n'));
    const sum = totals(result);
    assert.equal(sum.lost, 0);
    assert.equal(sum.committed, sum.found, 'every stream stopped: all it sent is committed, and all of it is found');
    assert.equal(sum.sent, sum.committed);
    // Kept when an assertion above fails: the service's log is what explains it.
    rmSync(path.dirname(result.logPath), { recursive: true, force: true });
  },
);
