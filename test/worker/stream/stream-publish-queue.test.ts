/**
 * The per-stream publish queue's rules, against a scripted publisher (pure
 * logic: the real backends are covered by the contract suite and end to end).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngestError, PublishError } from '../../../src/shared/errors';
import type { IngestRecord } from '../../../src/shared/publishing/records';
import { StreamPublishQueue, type FailureOutcome } from '../../../src/worker/stream/stream-publish-queue';
import { ScriptedPublisher } from '../../support/scripted-publisher';

function audio(seq: number, bytes = 10): IngestRecord {
  return {
    type: 'audio',
    tenant_id: 't',
    interaction_id: 'i',
    stream_id: 's',
    source: 'native',
    received_at: new Date().toISOString(),
    seq_start: seq,
    seq_end: seq,
    frames: 1,
    encoding: 'pcm_s16le',
    sample_rate: 8000,
    channels: 1,
    frame_bytes: bytes,
    payload: Buffer.alloc(bytes),
  };
}

function events() {
  const confirmed: number[] = [];
  const failures: FailureOutcome[] = [];
  return {
    confirmed,
    failures,
    handlers: {
      onConfirmed: (r: IngestRecord) => confirmed.push(r.type === 'audio' ? r.seq_start : -1),
      onFailed: (_e: IngestError, _r: IngestRecord, outcome: FailureOutcome) => failures.push(outcome),
      onBacklogDrained: () => undefined,
    },
  };
}

test('2 one publish in flight per stream: record k+1 is not sent before record k is confirmed', async () => {
  const publisher = new ScriptedPublisher();
  const ev = events();
  const queue = new StreamPublishQueue(publisher, ev.handlers);
  queue.push(audio(1));
  queue.push(audio(2));
  queue.push(audio(3));
  const first = await publisher.nthCall(1);
  assert.equal(publisher.calls.length, 1, 'only the head is in flight');
  assert.equal(queue.backlogBytes, 30);
  first.resolve();
  (await publisher.nthCall(2)).resolve();
  (await publisher.nthCall(3)).resolve();
  await queue.whenIdle();
  assert.deepEqual(ev.confirmed, [1, 2, 3]);
  assert.equal(queue.backlogBytes, 0);
});

test(
  '2 a transient failure is retried, in place, until the ' + 'backend confirms; nothing after it overtakes it',
  async () => {
    const publisher = new ScriptedPublisher();
    const ev = events();
    const queue = new StreamPublishQueue(publisher, ev.handlers);
    queue.push(audio(1));
    queue.push(audio(2));
    (await publisher.nthCall(1)).reject(new PublishError('connection lost', true));
    const retry = await publisher.nthCall(2);
    assert.equal((retry.record as { seq_start: number }).seq_start, 1, 'the failed record is retried first');
    retry.resolve();
    (await publisher.nthCall(3)).resolve();
    await queue.whenIdle();
    assert.deepEqual(ev.confirmed, [1, 2]);
    assert.deepEqual(ev.failures, ['retry']);
  },
);

test('2 a permanent refusal stops the queue and is reported once (the session closes with 1011)', async () => {
  const publisher = new ScriptedPublisher();
  const ev = events();
  const queue = new StreamPublishQueue(publisher, ev.handlers);
  queue.push(audio(1));
  queue.push(audio(2));
  (await publisher.nthCall(1)).reject(new PublishError('WRONGTYPE', false));
  await queue.whenIdle();
  assert.deepEqual(ev.failures, ['stopped']);
  assert.equal(queue.failure?.code, 'backend_rejected');
  assert.equal(publisher.calls.length, 1, 'nothing more is sent after a permanent refusal');
});

test('3 an invalid record (no tenant) is dropped and counted, never retried, and the stream goes on', async () => {
  const publisher = new ScriptedPublisher();
  const ev = events();
  const queue = new StreamPublishQueue(publisher, ev.handlers);
  queue.push(audio(1));
  queue.push(audio(2));
  (await publisher.nthCall(1)).reject(new IngestError('record_invalid', 'record of type audio has no tenant_id'));
  (await publisher.nthCall(2)).resolve();
  await queue.whenIdle();
  assert.deepEqual(ev.failures, ['dropped']);
  assert.deepEqual(ev.confirmed, [2]);
});

test('2 abandon() at the shutdown deadline stops retrying, releases waiters and returns what it gave up', async () => {
  const publisher = new ScriptedPublisher();
  const ev = events();
  const queue = new StreamPublishQueue(publisher, ev.handlers);
  queue.push(audio(1));
  queue.push(audio(2, 30));
  (await publisher.nthCall(1)).reject(new PublishError('down', true));
  const idle = queue.whenIdle();
  const loss = queue.abandon();
  await idle;
  assert.deepEqual(loss, { records: 2, bytes: 40, frames: 2, seqStart: 1, seqEnd: 2 });
  assert.equal(queue.backlogBytes, 0, 'the given-up bytes leave the backlog: the loss is counted by the caller');
  assert.deepEqual(queue.abandon(), { records: 0, bytes: 0, frames: 0, seqStart: undefined, seqEnd: undefined });
});

test('2 a record pushed while a permanent refusal is reported does not restart publishing', async () => {
  const publisher = new ScriptedPublisher();
  const queue: StreamPublishQueue = new StreamPublishQueue(publisher, {
    onConfirmed: () => undefined,
    onFailed: () => queue.push(audio(2)), // as the session pushes its stream_ended
    onBacklogDrained: () => undefined,
  });
  queue.push(audio(1));
  (await publisher.nthCall(1)).reject(new PublishError('WRONGTYPE', false));
  await queue.whenIdle();
  assert.equal(publisher.calls.length, 1, 'the refused record is not sent again');
  assert.equal(queue.backlogBytes, 20, 'both records stay counted as unpublished');
});
