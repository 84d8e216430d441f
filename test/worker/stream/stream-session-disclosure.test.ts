/**
 * What a stream tells its client, and what it lets the client choose: the backend's own
 * words (addresses, stream keys, topics) stay in the log, and the close-code metric label
 * is one of the known codes or `other`, whatever code the client closes with.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PublishError } from '../../../src/shared/errors';
import { closeCodeLabel } from '../../../src/worker/stream/stream-transport';
import { frameOf, openSession, peerCloses, START, until } from '../../support/session-harness';

const BACKEND_WORDS =
  'WRONGTYPE Operation against a key holding the wrong kind of value (key ingest:tenant-a:call-1 ' +
  'on redis://10.20.30.40:6379, topic ingest-audio-prod)';

function assertNoBackendDetail(text: string): void {
  for (const secret of ['10.20.30.40', 'ingest:tenant-a:call-1', 'ingest-audio-prod', 'WRONGTYPE']) {
    assert.ok(!text.includes(secret), `the client is not told ${secret}`);
  }
}

test('a 1011 error message names no Redis address, stream key or Kafka topic: stable code, generic text', async (t) => {
  const h = openSession(t);
  h.session.begin(START);
  h.session.frame(frameOf(1000)); // flushed by size, queued behind stream_started
  (await h.publisher.nthCall(1)).reject(new PublishError(BACKEND_WORDS, false));
  await until(() => !h.transport.isOpen, 'the socket closed');
  const error = h.transport.replies().at(-1);
  assert.deepEqual(error, { type: 'error', code: 'backend_rejected', message: 'backend refused the data' });
  assert.deepEqual(h.transport.closedWith, { code: 1011, reason: 'backend refused the data' });
  assertNoBackendDetail(h.transport.sent.join('\n'));
  const logged = h.logs.filter((l) => JSON.stringify(l).includes('10.20.30.40'));
  assert.equal(logged.length, 1, 'the detail is logged once, where the refusal is handled');
});

test('a 1011 after stop (waiting for the backend) also sends only the code and the generic text', async (t) => {
  const h = openSession(t);
  h.session.begin(START);
  h.session.frame(frameOf(100));
  const stopping = h.session.stop();
  (await h.publisher.nthCall(1)).reject(new PublishError(BACKEND_WORDS, false));
  await stopping;
  assert.equal(h.transport.closedWith?.code, 1011);
  assert.deepEqual(h.transport.replies().at(-1), {
    type: 'error',
    code: 'backend_rejected',
    message: 'backend refused the data',
  });
  assertNoBackendDetail(h.transport.sent.join('\n'));
});

test('the close-code metric label is bounded: a client-chosen code counts as other', async (t) => {
  for (const [code, label] of [
    [1000, '1000'],
    [4321, 'other'],
    [3999, 'other'],
    [65535, 'other'],
  ] as const) {
    await t.test(`close ${code}`, (st) => {
      const h = openSession(st);
      h.session.begin(START);
      peerCloses(h, code);
      assert.deepEqual([...h.stats.streamCloses], [[label, 1]]);
    });
  }
  assert.deepEqual([1001, 1006, 1008, 1011, 1012, 1013, 1004, 2000].map(closeCodeLabel), [
    '1001',
    '1006',
    '1008',
    '1011',
    '1012',
    '1013',
    'other',
    'other',
  ]);
});
