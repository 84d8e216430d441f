/**
 * What `ingest-replay` writes for a call (src/client/replay/call-files.ts):
 * nothing is ever overwritten (a later part of a call goes to `<id>.part<N>`,
 * in this run or the next), a call whose id another tenant's call holds is
 * refused, and the sidecar's origin is what it was given.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { CallAssembly, parseRecord, type ConsumedRecord } from '../../../packages/consumer/src/index';
import { CallFiles } from '../../../src/client/replay/call-files';

let position = 0;

function record(tenant: string, fields: Record<string, string | number | Buffer>): ConsumedRecord {
  const map = new Map<string, Buffer | string>();
  const base = { tenant_id: tenant, interaction_id: 'call-1', stream_id: 's1', source: 'native', received_at: 'x' };
  for (const [k, v] of Object.entries({ ...base, ...fields })) map.set(k, Buffer.isBuffer(v) ? v : String(v));
  return parseRecord(map, `1-${position++}`);
}

function call(tenant: string, from: number, to: number): CallAssembly {
  const assembly = new CallAssembly('call-1');
  const media = { encoding: 'pcm_s16le', sample_rate: 8000, channels: 1 };
  assembly.add(record(tenant, { type: 'stream_started', ...media, first_seq: from }));
  const frames = to - from + 1;
  const payload = Buffer.alloc(frames * 2, from);
  assembly.add(
    record(tenant, { type: 'audio', ...media, seq_start: from, seq_end: to, frames, frame_bytes: 2, payload }),
  );
  return assembly;
}

function folder(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'call-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const options = (out: string) =>
  ({ out, wavFormat: 'pcm16', fillGaps: true, origin: { from: 'redis://h:1', key: 'k' } }) as const;

test('a later part of a call never overwrites the earlier one, in the same run or the next', (t) => {
  const out = folder(t);
  const first = new CallFiles(options(out)).write(call('a', 1, 3), 'idle');
  assert.match(first.line, /ended=no\(idle\) wav=call-1\.wav/);
  const second = new CallFiles(options(out)).write(call('a', 4, 5));
  assert.match(second.line, /part=2 wav=call-1\.part2\.wav/);
  const third = new CallFiles(options(out)).write(call('a', 6, 6));
  assert.match(third.line, /part=3/);
  assert.deepEqual(readdirSync(out).sort(), [
    'call-1.json',
    'call-1.part2.json',
    'call-1.part2.wav',
    'call-1.part3.json',
    'call-1.part3.wav',
    'call-1.wav',
  ]);
  const sidecar = JSON.parse(readFileSync(path.join(out, 'call-1.part3.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(sidecar.part, 3);
  assert.deepEqual(sidecar.earlier_parts, ['call-1.json', 'call-1.part2.json']);
  assert.equal(readFileSync(path.join(out, 'call-1.wav')).length, 44 + 6, 'the first part is as it was written');
});

test('a second tenant with the same interaction id is refused, naming both tenants', (t) => {
  const out = folder(t);
  const files = new CallFiles(options(out));
  assert.equal(files.write(call('tenant-a', 1, 2)).refused, false);
  const refused = files.write(call('tenant-b', 1, 2));
  assert.equal(refused.refused, true);
  assert.match(refused.line, /tenant=tenant-b .*error=tenant_conflict/);
  assert.match(refused.warning ?? '', /tenant tenant-a's call of the same id; run again with --tenant tenant-b/);
  assert.ok(new CallFiles(options(out)).write(call('tenant-b', 1, 2)).refused, 'an earlier run’s file counts too');
  assert.deepEqual(readdirSync(out).sort(), ['call-1.json', 'call-1.wav']);
});
