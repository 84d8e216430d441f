import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplyError } from 'ioredis';
import {
  isRetryableRedisError,
  replyPrefix,
} from '../../../../src/shared/publishing/redis-streams/redis-error-classifier';

function reply(message: string): Error {
  return new (ReplyError as new (message: string) => Error)(message);
}

test('transient Redis replies are retryable', () => {
  for (const message of [
    'LOADING Redis is loading the dataset in memory',
    'BUSY Redis is busy running a script.',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'CLUSTERDOWN The cluster is down',
    'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.',
    "OOM command not allowed when used memory > 'maxmemory'.",
    "READONLY You can't write against a read only replica.",
    'MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk.',
    'UNBLOCKED client unblocked via CLIENT UNBLOCK',
    'NOSCRIPT No matching script. Please use EVAL.',
  ]) {
    assert.equal(isRetryableRedisError(reply(message)), true, message);
  }
});

test('replies that waiting does not change are not retryable', () => {
  for (const message of [
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'ERR syntax error',
    'NOAUTH Authentication required.',
    'WRONGPASS invalid username-password pair or user is disabled.',
    "NOPERM this user has no permissions to run the 'xadd' command",
  ]) {
    assert.equal(isRetryableRedisError(reply(message)), false, message);
  }
});

test('errors that never reached a Redis verdict are retryable', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
  for (const err of [
    refused,
    new Error('Connection is closed.'),
    new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    new Error('Command timed out'),
  ]) {
    assert.equal(isRetryableRedisError(err), true, err.message);
  }
});

test('the reply prefix is the leading upper-case word', () => {
  assert.equal(replyPrefix('WRONGTYPE Operation against a key'), 'WRONGTYPE');
  assert.equal(replyPrefix('OOM command not allowed'), 'OOM');
  assert.equal(replyPrefix('lowercase text'), '');
});
