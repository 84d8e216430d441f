/**
 * The cluster publisher's health is up only when no master is failing
 * (cluster-node-failures.ts): a healthy shard's success does not hide a dead
 * one, a PING clears only an unreachable node, and a node that left the slot
 * map (its replica took over) is forgotten.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClusterNodeFailures } from '../../../../src/shared/publishing/redis-streams/cluster-node-failures';

test('a success on one master does not clear another failing one: health stays degraded', () => {
  const failures = new ClusterNodeFailures();
  failures.fail('10.0.0.1:7000', 'connection', 'connect ECONNREFUSED');
  failures.clear('10.0.0.2:7001'); // a publish to a healthy shard
  assert.equal(failures.size, 1);
  assert.equal(failures.reason(), 'connect ECONNREFUSED');
  failures.clear('10.0.0.1:7000'); // a publish to the failing shard succeeded
  assert.equal(failures.size, 0);
  assert.equal(failures.reason(), undefined);
});

test('a PING can clear only connection failures, not refused writes (OOM, MISCONF, a WAIT shortfall)', () => {
  const failures = new ClusterNodeFailures();
  failures.fail('a:1', 'connection', 'Connection is closed.');
  failures.fail('b:2', 'reply', 'WAIT: 0 of 1 replicas');
  failures.fail('c:3', 'reply', 'OOM command not allowed');
  assert.deepEqual(failures.unreachable(), ['a:1']);
  failures.clear('a:1');
  assert.equal(failures.reason(), 'OOM command not allowed', 'the latest failure still standing');
  failures.fail('b:2', 'connection', 'Command timed out');
  assert.deepEqual(failures.unreachable(), ['b:2'], 'the latest cause of a node counts');
});

test('a failing node that leaves the slot map (its replica was promoted) is forgotten', () => {
  const failures = new ClusterNodeFailures();
  failures.fail('dead:7000', 'connection', 'connect ECONNREFUSED');
  failures.fail('full:7001', 'reply', 'OOM');
  failures.retain(['promoted:7003', 'full:7001', 'other:7002']);
  assert.equal(failures.size, 1);
  assert.equal(failures.reason(), 'OOM');
  failures.retain([]);
  assert.equal(failures.size, 0);
});
