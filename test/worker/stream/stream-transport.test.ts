/** Closing a stream's socket: WebSocket close reasons are limited to 123 bytes (RFC 6455 5.5). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { truncateReason } from '../../../src/worker/stream/stream-transport';

test('a close reason of at most 123 bytes is sent as it is', () => {
  const reason = 'x'.repeat(123);
  assert.equal(truncateReason(reason), reason);
});

test('a longer close reason is cut to at most 123 bytes, by whole characters, and marked with ...', () => {
  const cut = truncateReason('é'.repeat(100)); // 200 bytes, two per character
  assert.equal(cut, 'é'.repeat(60) + '...');
  assert.ok(Buffer.byteLength(cut) <= 123);
  assert.equal(truncateReason('a' + '€'.repeat(50)), 'a' + '€'.repeat(39) + '...', 'never inside a character');
});
