/**
 * Bad usage of `ingest-loadgen` exits 2 with every problem named and the usage
 * text, before anything connects.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { privateKeyFile, runLoadgenCli } from './loadgen-run-cli';

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

test('an X25519 key (no JWT algorithm signs with it) is bad usage, exit 2, before any thread starts', async (t) => {
  const key = privateKeyFile(t, generateKeyPairSync('x25519').privateKey);
  const run = await runLoadgenCli(['--url', URL, '--streams', '1', '--seconds', '1', '--private-key', key]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /a x25519 key cannot sign tokens/);
  assert.match(run.stderr, /usage: ingest-loadgen/);
});

test('with --json even bad usage ends stdout with one JSON object naming the error', async () => {
  const run = await runLoadgenCli(['--url', URL, '--streams', '0', '--seconds', '1', '--token', 'x', '--json']);
  assert.equal(run.code, 2, run.stderr);
  const last = JSON.parse(run.stdout.trim().split('\n').pop()!) as { error: { code: string; message: string } };
  assert.equal(last.error.code, 'usage');
  assert.match(last.error.message, /--streams "0"/);
});

test('--window-frames below the server ack interval is refused: no ack would ever reopen the window', async () => {
  const run = await runLoadgenCli([
    '--url',
    URL,
    '--streams',
    '1',
    '--seconds',
    '1',
    '--token',
    'x',
    '--max-rate',
    '--window-frames',
    '5',
  ]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /--window-frames "5"/);
});

test('--help prints the usage and exits 0', async () => {
  const run = await runLoadgenCli(['--help']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /usage: ingest-loadgen --url/);
});
