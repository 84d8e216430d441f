/**
 * Hole 3 of issue 10 against real brokers: a private 3-node KRaft cluster
 * (kafkaCluster in test/support/backends/kafka-broker.js), a topic with 3
 * replicas and min.insync.replicas=2, the real KafkaPublisher (idempotent,
 * acks=-1) fed by streams that each retry through the real StreamPublishQueue,
 * as the worker does. The leader of partition 0 is killed (SIGKILL) while
 * records are in flight and stays down for longer than the client's own retries;
 * publishing goes on; the node comes back; everything is read back. Every
 * record the publisher confirmed must be in the topic, in order per key;
 * duplicates are allowed (at least once) and reported. A partition jammed by a
 * reused sequence number shows as streams that never drain.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaPublisher } from '../../../../src/shared/publishing/kafka/kafka-publisher';
import type { IngestRecord } from '../../../../src/shared/publishing/records';
import { StreamPublishQueue } from '../../../../src/worker/stream/stream-publish-queue';
import { testConfig } from '../../../support/ingest-server';
import { createTopic, kafkaBroker, partitionLeader, readTopic } from '../../../support/kafka';
import { audioRecord } from '../../../support/sample-records';

const STREAMS = 12;
/** Each stream pushes one record per tick: about 300 records a second in all, a steady load for 2 cores. */
const TICK_MS = 40;
/** Longer than kafkajs's own retries (3, at most 1 s apart) and the broker's session timeout below. */
const LEADER_DOWN_MS = 6000;
const PARTITIONS = 3;

interface Published {
  readonly stream: number;
  readonly n: number;
}

function payloadOf(p: Published): Buffer {
  return Buffer.from(`${p.stream}:${p.n}`);
}

function parse(value: Buffer): Published {
  const [stream, n] = value.toString().split(':').map(Number);
  return { stream, n };
}

function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`${what}: not within ${timeoutMs} ms`));
      setTimeout(check, 50);
    };
    check();
  });
}

const TITLE =
  'a partition leader killed mid-produce (acks=-1, 3 replicas, min.insync.replicas=2): ' +
  'every record the publisher confirmed is in the topic, in order per key, and no partition jams';
test(TITLE, { timeout: 170_000 }, async (t) => {
  const started = Date.now();
  const cluster = kafkaBroker.kafkaCluster({
    nodes: 3,
    // A killed node is fenced (and its partitions get new leaders) after the
    // session timeout: 9 s by default, shortened to keep the test short.
    brokerConfig: { 'broker.session.timeout.ms': 4000, 'broker.heartbeat.interval.ms': 500 },
  });
  // One hook, in this order: node:test runs after() hooks in the order they were added.
  const open: { publisher?: KafkaPublisher; ticker?: NodeJS.Timeout } = {};
  const queues: StreamPublishQueue[] = [];
  t.after(async () => {
    clearInterval(open.ticker);
    for (const queue of queues) queue.abandon();
    const closing = Date.now();
    await open.publisher?.close();
    await cluster.close();
    t.diagnostic(`closed in ${Date.now() - closing} ms`);
  });
  await cluster.start();
  t.diagnostic(`3-node cluster up in ${Date.now() - started} ms`);

  const topic = `failover-${Date.now()}`;
  await createTopic(cluster.brokers, topic, {
    partitions: PARTITIONS,
    replicationFactor: 3,
    config: { 'min.insync.replicas': '2' },
  });

  const publisher = new KafkaPublisher(
    testConfig({
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: cluster.brokers.join(','),
      KAFKA_TOPIC: topic,
      BACKEND_CONNECT_TIMEOUT_MS: '30000',
    }),
  );
  open.publisher = publisher;
  await publisher.start();

  const confirmed: Published[] = [];
  let failures = 0;
  const streams = Array.from({ length: STREAMS }, (_, stream) => {
    const interaction = `failover-${stream}`;
    const queue = new StreamPublishQueue(publisher, {
      onConfirmed: (record: IngestRecord) => {
        if (record.type === 'audio') confirmed.push(parse(record.payload));
      },
      onFailed: (error, _record, outcome) => {
        failures++;
        assert.equal(outcome, 'retry', `a failure the queue does not retry: ${error.message}`);
      },
      onBacklogDrained: () => undefined,
    });
    queues.push(queue);
    return { stream, interaction, queue, next: 1 };
  });
  const pushTick = (): void => {
    for (const s of streams) {
      const published = { stream: s.stream, n: s.next++ };
      s.queue.push(
        audioRecord('tenant-failover', published.n, payloadOf(published), {
          interaction_id: s.interaction,
          stream_id: `stream-${s.stream}`,
        }),
      );
    }
  };
  const ticker = setInterval(pushTick, TICK_MS);
  open.ticker = ticker;

  await until(() => confirmed.length >= STREAMS * 20, 'records confirmed before the kill', 30_000);
  const leader = await partitionLeader(cluster.brokers, topic, 0);
  const confirmedAtKill = confirmed.length;
  await cluster.stopNode(leader, 'SIGKILL');
  t.diagnostic(`killed node ${leader} (leader of partition 0) after ${confirmedAtKill} confirmed records`);
  await new Promise((resolve) => setTimeout(resolve, LEADER_DOWN_MS));
  const failuresWhileDown = failures;
  await cluster.startNode(leader);
  t.diagnostic(
    `node ${leader} back after ${Date.now() - started} ms; ${failuresWhileDown} failed publishes while it was down`,
  );
  const confirmedAtRestart = confirmed.length;
  const restarted = Date.now();
  await until(
    () => confirmed.length >= confirmedAtRestart + STREAMS * 5,
    'records confirmed after the restart',
    60_000,
  );
  clearInterval(ticker);

  // A partition jammed by a reused sequence number never drains.
  let jamTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(streams.map((s) => s.queue.whenIdle())),
    new Promise((_, reject) => {
      jamTimer = setTimeout(() => {
        const stuck = streams.filter((s) => s.queue.size > 0).map((s) => `${s.interaction} (${s.queue.size} queued)`);
        reject(new Error(`streams never drained (a jammed partition?): ${stuck.join(', ')}`));
      }, 30_000);
    }),
  ]).finally(() => clearTimeout(jamTimer));
  t.diagnostic(`drained ${Date.now() - restarted} ms after the restart`);
  const published = streams.reduce((n, s) => n + s.next - 1, 0);
  assert.equal(confirmed.length, published, 'every record published was confirmed');

  const messages = await readTopic(cluster.brokers, topic, 60_000);
  const found = new Map<string, number>();
  const lastPerStream = new Map<number, number>();
  for (const message of messages) {
    const record = parse(message.value);
    const key = `${record.stream}:${record.n}`;
    found.set(key, (found.get(key) ?? 0) + 1);
    // In order per key: a copy of record n (an earlier attempt, stored) may precede it, never follow n+1.
    const last = lastPerStream.get(record.stream) ?? 0;
    assert.ok(record.n >= last, `stream ${record.stream}: record ${record.n} after ${last}`);
    lastPerStream.set(record.stream, record.n);
  }
  const missing = confirmed.filter((c) => !found.has(`${c.stream}:${c.n}`));
  const duplicates = [...found.values()].reduce((n, copies) => n + copies - 1, 0);
  t.diagnostic(
    `published ${published} confirmed ${confirmed.length} found ${found.size} ` +
      `duplicated ${duplicates} missing ${missing.length} (in ${Date.now() - started} ms)`,
  );
  assert.deepEqual(
    missing.slice(0, 20).map((c) => `${c.stream}:${c.n}`),
    [],
    `${missing.length} confirmed records are not in the topic`,
  );
});
