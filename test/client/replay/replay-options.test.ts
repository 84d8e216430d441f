/**
 * `ingest-replay`'s command line (src/client/replay/replay-options.ts): times
 * must be ISO-8601 with an offset, combinations that could never end or would
 * leave a group's entries pending are refused, --key placeholders are filled,
 * and the address shown anywhere carries no credentials.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReplayOptions, UsageError, withoutCredentials } from '../../../src/client/replay/replay-options';

const REDIS = ['--from', 'redis://127.0.0.1:6379', '--key', 'k', '--out', 'o'];

function problems(args: readonly string[]): string {
  try {
    parseReplayOptions(args);
  } catch (error) {
    assert.ok(error instanceof UsageError);
    return error.problems.join('\n');
  }
  assert.fail(`accepted: ${args.join(' ')}`);
}

test('--since and --until take ISO-8601 with Z or an offset only', () => {
  for (const bad of ['1', 'March 1', '2026-03-01', '2026-03-01T09:00:00'])
    assert.match(problems([...REDIS, '--since', bad]), /is not an ISO-8601 time with Z or an offset/, bad);
  const options = parseReplayOptions([
    ...REDIS,
    '--since',
    '2026-03-01T10:00:00+01:00',
    '--until',
    '2026-03-01T09:30Z',
  ]);
  assert.equal(options?.since?.toISOString(), '2026-03-01T09:00:00.000Z');
  assert.equal(options?.until?.toISOString(), '2026-03-01T09:30:00.000Z');
});

test('combinations that never end, leave entries pending or do nothing are refused, naming the flags', () => {
  assert.match(problems([...REDIS, '--follow', '--until', '2026-03-01T09:00:00Z']), /--follow and --until/);
  assert.match(
    problems([...REDIS, '--group', 'g', '--tenant', 't', '--since', '2026-03-01T09:00:00Z']),
    /--group with --tenant, --since/,
  );
  assert.match(problems([...REDIS, '--group', 'g', '--interaction', 'c']), /--group with --interaction/);
  assert.match(problems([...REDIS, '--resume-wait-seconds', '5']), /--resume-wait-seconds is for --follow/);
  assert.equal(parseReplayOptions([...REDIS, '--follow', '--resume-wait-seconds', '5'])?.resumeWaitMs, 5000);
});

test('--key placeholders are filled from --tenant / --interaction; one that cannot be is refused', () => {
  const from = ['--from', 'redis://127.0.0.1:6379', '--out', 'o'];
  const options = parseReplayOptions([...from, '--key', 'ingest:{tenant_id}:audio', '--tenant', 'tenant-a']);
  assert.equal(options?.backend.kind === 'redis' && options.backend.key, 'ingest:tenant-a:audio');
  assert.match(problems([...from, '--key', 'ingest:{tenant_id}:audio']), /has \{tenant_id\}: give --tenant/);
});

test('credentials in --from are kept for connecting and removed from what is shown', () => {
  const options = parseReplayOptions(['--from', 'redis://user:s3cret@10.0.0.1:6379/2', '--key', 'k', '--out', 'o']);
  assert.ok(options?.backend.kind === 'redis');
  assert.equal(options.backend.url, 'redis://user:s3cret@10.0.0.1:6379/2');
  assert.equal(options.backend.shown, 'redis://10.0.0.1:6379/2');
  assert.equal(withoutCredentials('rediss://:p@w@host:1'), 'rediss://host:1');
  assert.doesNotMatch(problems(['--from', 'http://u:s3cret@h', '--key', 'k', '--out', 'o']), /s3cret/);
  const kafka = parseReplayOptions(['--from', 'kafka://u:s3cret@b1:9092,b2:9092', '--topic', 't', '--out', 'o']);
  assert.ok(kafka?.backend.kind === 'kafka');
  assert.deepEqual(kafka.backend.brokers, ['b1:9092', 'b2:9092']);
  assert.equal(kafka.backend.shown, 'kafka://b1:9092,b2:9092');
});
