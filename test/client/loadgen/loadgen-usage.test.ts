/**
 * Bad usage of `ingest-loadgen` exits 2 with every problem named and the usage
 * text, before anything connects.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runLoadgenCli } from './loadgen-run-cli';

const URL = 'ws://127.0.0.1:1/v1/ingest';

for (const [what, args, problem] of [
  ['no arguments', [], /--url is required/],
  [
    'a stream count that is not a number',
    ['--url', URL, '--streams', 'lots', '--seconds', '1', '--token', 'x'],
    /--streams "lots"/,
  ],
  [
    'no credentials for the native dialect',
    ['--url', URL, '--streams', '1', '--seconds', '1'],
    /--private-key FILE or --token/,
  ],
  ['an unknown flag', ['--url', URL, '--streams', '1', '--seconds', '1', '--token', 'x', '--colour'], /colour/],
  ['an unknown dialect', ['--url', URL, '--streams', '1', '--seconds', '1', '--dialect', 'sip'], /--dialect "sip"/],
  [
    'a private key file that is not there',
    ['--url', URL, '--streams', '1', '--seconds', '1', '--private-key', '/nonexistent.pem'],
    /--private-key \/nonexistent.pem/,
  ],
  [
    '--verify-kafka without a topic',
    ['--url', URL, '--streams', '1', '--seconds', '1', '--token', 'x', '--verify-kafka', 'h:9092'],
    /--verify-topic/,
  ],
] as const) {
  test(`bad usage exits 2: ${what}`, async () => {
    const run = await runLoadgenCli(args);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, problem);
    assert.match(run.stderr, /usage: ingest-loadgen/);
    assert.equal(run.stdout, '');
  });
}

test('--help prints the usage and exits 0', async () => {
  const run = await runLoadgenCli(['--help']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /usage: ingest-loadgen --url/);
});
