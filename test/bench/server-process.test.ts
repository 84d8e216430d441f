import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverNodeFlags } from '../../bench/server-process';

test('BENCH_SERVER_NODE_OPTIONS becomes one command-line flag per word, none when unset or blank', () => {
  assert.deepEqual(serverNodeFlags(' --trace-gc  --cpu-prof --cpu-prof-dir=/tmp/p '), [
    '--trace-gc',
    '--cpu-prof',
    '--cpu-prof-dir=/tmp/p',
  ]);
  assert.deepEqual(serverNodeFlags(undefined), []);
  assert.deepEqual(serverNodeFlags('   '), []);
});
