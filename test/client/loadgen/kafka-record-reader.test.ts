/**
 * The Kafka read-back against the real broker: messages below the end
 * offsets noted before the run count as another run's, the topic is read up
 * to its end offsets (so a duplicate stored after the last frame found is
 * counted), a topic that does not exist yet marks nothing, and this run's
 * records and interactions are tallied by partition, unused partitions too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { PatternFrames } from '../../../src/client/loadgen/frame-content';
import { FrameVerifier } from '../../../src/client/loadgen/frame-verifier';
import { markKafka, verifyFromKafka } from '../../../src/client/loadgen/kafka-record-reader';
import { createTopic, deleteTopicAfter, SHARED_BROKERS } from '../../support/kafka';
import { uniqueName } from '../../support/unique-name';

const FRAMES = new PatternFrames(320, 9);

function audioMessage(id: string, start: number, end: number): { value: Buffer; headers: Record<string, string> } {
  const parts: Buffer[] = [];
  for (let seq = start; seq <= end; seq++) parts.push(FRAMES.frame(0, seq));
  return {
    value: Buffer.concat(parts),
    headers: {
      type: 'audio',
      interaction_id: id,
      seq_start: String(start),
      seq_end: String(end),
      frames: String(end - start + 1),
      frame_bytes: '320',
    },
  };
}

test('messages before the mark are another run; the topic is read to its end, duplicates included', async (t) => {
  const topic = uniqueName('lg-verify');
  deleteTopicAfter(t, SHARED_BROKERS, topic);
  assert.deepEqual([...(await markKafka(SHARED_BROKERS.join(','), topic))], [], 'an absent topic marks nothing');
  await createTopic(SHARED_BROKERS, topic, { partitions: 1, replicationFactor: 1 });
  const producer = new Kafka({ clientId: 'lg-test', brokers: SHARED_BROKERS, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  await producer.send({ topic, messages: [audioMessage('k-0', 1, 10)] }); // an earlier run, same id and frames
  const mark = await markKafka(SHARED_BROKERS.join(','), topic);
  assert.deepEqual([...mark], [[0, 1n]]);
  await producer.send({ topic, messages: [audioMessage('k-0', 1, 4), audioMessage('k-0', 3, 4)] });
  const verifier = new FrameVerifier([{ interactionId: 'k-0', index: 0, sent: 4, committed: 4 }], FRAMES);
  await verifyFromKafka(SHARED_BROKERS.join(','), topic, verifier, 5000, mark);
  const s = verifier.summary();
  assert.deepEqual(
    [s.records, s.records_before_run, s.frames_found, s.foreign, s.duplicated, s.missing],
    [2, 1, 4, 10, 2, 0],
    'the duplicate after the last frame found was read too',
  );
});

test('the spread: records and interactions of this run by partition, every partition listed', async (t) => {
  const topic = uniqueName('lg-spread');
  deleteTopicAfter(t, SHARED_BROKERS, topic);
  await createTopic(SHARED_BROKERS, topic, { partitions: 3, replicationFactor: 1 });
  const producer = new Kafka({ clientId: 'lg-test', brokers: SHARED_BROKERS, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const at = (partition: number, id: string, start: number, end: number) => ({
    topic,
    messages: [{ partition, ...audioMessage(id, start, end) }],
  });
  await producer.send(at(0, 'k-0', 1, 2)); // before the run: not this run's
  const mark = await markKafka(SHARED_BROKERS.join(','), topic);
  await producer.send(at(0, 'k-0', 1, 2));
  await producer.send(at(0, 'k-0', 3, 4));
  await producer.send(at(0, 'k-1', 1, 4));
  await producer.send(at(2, 'k-2', 1, 4));
  await producer.send(at(2, 'other-run', 1, 4)); // not one of this run's interactions
  const verifier = new FrameVerifier(
    ['k-0', 'k-1', 'k-2'].map((interactionId) => ({ interactionId, index: 0, sent: 4, committed: 4 })),
    FRAMES,
  );
  const spread = await verifyFromKafka(SHARED_BROKERS.join(','), topic, verifier, 5000, mark);
  assert.deepEqual(spread, [
    { partition: 0, records: 3, interactions: 2 },
    { partition: 1, records: 0, interactions: 0 },
    { partition: 2, records: 1, interactions: 1 },
  ]);
  assert.equal(verifier.summary().records, 4);
});
