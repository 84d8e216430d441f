import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ALERTED_CLOSE_CODES, createWorkerMetrics } from '../../../src/worker/metrics/worker-metrics';
import { LOSS_REASONS, WorkerStats } from '../../../src/worker/metrics/worker-stats';
import { REPO_ROOT } from '../../support/repo-root';

test('the series the loss and close alerts watch are at 0 before anything counts, so the first is seen', async () => {
  const stats = new WorkerStats();
  const text = await createWorkerMetrics({ stats, backlogBytes: () => 0 }).metrics();
  for (const reason of LOSS_REASONS) {
    assert.match(text, new RegExp(`^ingest_lost_bytes_total\\{reason="${reason}"\\} 0$`, 'm'));
    assert.match(text, new RegExp(`^ingest_lost_frames_total\\{reason="${reason}"\\} 0$`, 'm'));
  }
  for (const code of ALERTED_CLOSE_CODES) {
    assert.match(text, new RegExp(`^ingest_stream_closes_total\\{code="${code}"\\} 0$`, 'm'));
  }

  stats.count(stats.streamCloses, '1011');
  stats.count(stats.lostBytes, 'retention_expired', 640);
  const after = await createWorkerMetrics({ stats, backlogBytes: () => 0 }).metrics();
  assert.match(after, /^ingest_stream_closes_total\{code="1011"\} 1$/m);
  assert.match(after, /^ingest_lost_bytes_total\{reason="retention_expired"\} 640$/m);
});

test('the close codes the alert rules name are the ones exposed from the start', () => {
  const rules = readFileSync(path.join(REPO_ROOT, 'ops', 'prometheus', 'ingest-alerts.yml'), 'utf8');
  const named = [...rules.matchAll(/ingest_stream_closes_total\{[^}]*code=~?"([^"]+)"/g)].flatMap((m) =>
    m[1].split('|'),
  );
  assert.ok(named.length > 0, 'the rules name close codes');
  assert.deepEqual([...new Set(named)].sort(), [...ALERTED_CLOSE_CODES].sort());
});
