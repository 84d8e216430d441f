import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workerExecArgv } from '../../../src/primary/pool/cluster-launcher';

test('workers get the V8 settings after the primary own flags', () => {
  assert.deepEqual(workerExecArgv({ maxSemiSpaceMb: 16, heapGrowingPercent: 300 }, ['--enable-source-maps']), [
    '--enable-source-maps',
    '--max-semi-space-size=16',
    '--heap-growing-percent=300',
  ]);
});

test('a V8 setting of 0 adds no flag: V8 keeps its default', () => {
  assert.deepEqual(workerExecArgv({ maxSemiSpaceMb: 0, heapGrowingPercent: 0 }, ['--enable-source-maps']), [
    '--enable-source-maps',
  ]);
  assert.deepEqual(workerExecArgv({ maxSemiSpaceMb: 0, heapGrowingPercent: 150 }, []), ['--heap-growing-percent=150']);
});
