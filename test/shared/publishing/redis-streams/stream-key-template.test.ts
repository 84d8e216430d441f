/**
 * REDIS_STREAM_KEY rendering per mode: placeholders replaced without their
 * braces on a single server or behind Sentinel (existing keys keep their
 * names), and keeping them on a Redis Cluster, where they become the hash tag.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashTagOf } from '../../../../src/shared/publishing/redis-streams/hash-slot';
import {
  compileStreamKey,
  untaggedKeyProblem,
} from '../../../../src/shared/publishing/redis-streams/stream-key-template';

const IDS = { tenant_id: 't-42', interaction_id: 'call-7' };

test('outside cluster mode placeholders are replaced without braces', () => {
  assert.equal(compileStreamKey('ingest:{tenant_id}:audio', false)(IDS), 'ingest:t-42:audio');
  assert.equal(compileStreamKey('ingest:{interaction_id}', false)(IDS), 'ingest:call-7');
  assert.equal(compileStreamKey('{tenant_id}/{interaction_id}/{tenant_id}', false)(IDS), 't-42/call-7/t-42');
  assert.equal(compileStreamKey('ingest:audio', false)(IDS), 'ingest:audio');
  assert.equal(compileStreamKey('{x}:{tenant_id}', false)(IDS), '{x}:t-42');
});

test('in cluster mode placeholders keep their braces and become the hash tag', () => {
  assert.equal(compileStreamKey('ingest:{tenant_id}:audio', true)(IDS), 'ingest:{t-42}:audio');
  assert.equal(hashTagOf(compileStreamKey('ingest:{tenant_id}:audio', true)(IDS)), 't-42');
  assert.equal(hashTagOf(compileStreamKey('i:{interaction_id}:{tenant_id}', true)(IDS)), 'call-7');
  assert.equal(compileStreamKey('ingest:audio', true)(IDS), 'ingest:audio');
});

test('untaggedKeyProblem: the first {…} must be a placeholder', () => {
  assert.equal(untaggedKeyProblem('ingest:{tenant_id}:audio'), undefined);
  assert.equal(untaggedKeyProblem('{interaction_id}'), undefined);
  assert.match(untaggedKeyProblem('ingest:audio') ?? '', /no \{…\} hash tag/);
  assert.match(untaggedKeyProblem('{ingest}:{tenant_id}') ?? '', /hash tag is \{ingest\}, not a placeholder/);
});
