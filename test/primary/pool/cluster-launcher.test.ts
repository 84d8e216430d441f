import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workerExecArgv } from '../../../src/primary/pool/cluster-launcher';

test('workers get the semi-space cap after the primary own flags', () => {
  assert.deepEqual(workerExecArgv(16, ['--enable-source-maps']), ['--enable-source-maps', '--max-semi-space-size=16']);
});

test('a cap of 0 leaves the workers with the primary own flags only', () => {
  assert.deepEqual(workerExecArgv(0, ['--enable-source-maps']), ['--enable-source-maps']);
});
