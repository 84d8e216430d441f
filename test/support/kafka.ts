/**
 * Helpers for tests against the real Kafka broker (started by test/run-tests.js
 * from Apache's jars, or a private one or a private cluster a test starts
 * itself): deleting a test's topic afterwards, a topic's partitions (leaders,
 * replicas, in-sync replicas) and settings, and reading a topic back from the
 * beginning up to its high watermark, byte-exact, with headers.
 */
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ConfigResourceTypes, Kafka, logLevel, type PartitionMetadata } from 'kafkajs';
// The tests' own kafkajs clients get the adapter's request-queue fix too (no 1 ms poll, no TimeoutNegativeWarning).
import '../../src/shared/publishing/kafka/kafka-publisher';
import { uniqueName } from './unique-name';

type KafkaBroker = typeof import('./backends/kafka-broker');

/** The broker kit (plain JS in test/support/backends, which tsc does not copy into dist/). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JS, shared with test/run-tests.js
export const kafkaBroker = require(
  path.join(process.env.INGEST_TEST_ROOT ?? process.cwd(), 'test', 'support', 'backends', 'kafka-broker.js'),
) as KafkaBroker;
export const SHARED_BROKERS = kafkaBroker.KAFKA_BROKERS;

export interface TopicMessage {
  readonly partition: number;
  readonly offset: string;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

function client(brokers: string[]): Kafka {
  return new Kafka({
    clientId: 'ingest-tests',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100 },
  });
}

/** Deletes `topic` after the test (best effort: the broker may be a stopped private one). */
export function deleteTopicAfter(t: TestContext, brokers: string[], topic: string): void {
  t.after(async () => {
    const admin = client(brokers).admin();
    try {
      await admin.connect();
      // A test may never create its topic; deleting an unknown topic is retried
      // by kafkajs for about 90 s before it gives up.
      if (!(await admin.listTopics()).includes(topic)) return;
      await admin.deleteTopics({ topics: [topic], timeout: 5000 });
    } catch {
      // a private broker already reset, or the topic never created: nothing to clean
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  });
}

/**
 * Creates `topic` and waits until each of its partitions has a leader. Not
 * kafkajs's createTopics waitForLeaders: it gives up on the
 * UNKNOWN_TOPIC_OR_PARTITION a KRaft broker answers for a moment after the
 * creation (docs/kafka.md).
 */
export async function createTopic(
  brokers: string[],
  topic: string,
  options: { partitions: number; replicationFactor: number; config?: Record<string, string> },
  timeoutMs = 30_000,
): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic,
          numPartitions: options.partitions,
          replicationFactor: options.replicationFactor,
          configEntries: Object.entries(options.config ?? {}).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    const until = Date.now() + timeoutMs;
    for (;;) {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).then(
        ({ topics }) => topics[0],
        () => undefined,
      );
      const partitions = metadata?.partitions ?? [];
      if (partitions.length === options.partitions && partitions.every((p) => p.leader >= 0)) return;
      if (Date.now() > until) throw new Error(`topic ${topic} has no leader for every partition after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Each partition of `topic` now, by partition id: its leader (-1: none), replicas and in-sync replicas
 * (for a test that stops a node of a kafkaCluster and waits for new leaders, or for a node to catch up).
 */
export async function topicPartitions(brokers: string[], topic: string): Promise<PartitionMetadata[]> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    return [...(metadata?.partitions ?? [])].sort((a, b) => a.partitionId - b.partitionId);
  } finally {
    await admin.disconnect();
  }
}

/** The node id leading `partition` of `topic` now (for a test that stops the leader of a kafkaCluster). */
export async function partitionLeader(brokers: string[], topic: string, partition: number): Promise<number> {
  const leader = (await topicPartitions(brokers, topic)).find((p) => p.partitionId === partition)?.leader;
  if (leader === undefined || leader < 0) throw new Error(`${topic}/${partition} has no leader`);
  return leader;
}

/** A topic's setting as the broker applies it (its own, or the broker's default), e.g. min.insync.replicas. */
export async function topicConfigValue(brokers: string[], topic: string, name: string): Promise<string | undefined> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }],
    });
    return described.resources[0]?.configEntries.find((e) => e.configName === name)?.configValue;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Each partition's high watermark. Right after a leader change a broker can answer ListOffsets with
 * NOT_LEADER_FOR_PARTITION from an admin whose metadata is stale, and kafkajs's admin throws it
 * without refreshing: each attempt therefore uses a fresh admin (fresh metadata), until `timeoutMs`.
 */
async function endOffsets(
  brokers: string[],
  topic: string,
  timeoutMs: number,
): Promise<Array<{ partition: number; high: string }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const admin = client(brokers).admin();
    try {
      await admin.connect();
      return await admin.fetchTopicOffsets(topic);
    } catch (error) {
      // kafkajs throws the protocol error itself, or wraps it once its own retries are spent.
      const { retriable, cause } = error as { retriable?: boolean; cause?: { retriable?: boolean } };
      if (retriable !== true && cause?.retriable !== true) throw error;
      if (Date.now() >= deadline) throw error;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Every message in `topic` from offset 0 to the current high watermark of each
 * partition, read with a plain consumer (fresh group), each once. Messages keep
 * their order within each partition. A consumer delivers some messages again
 * after its group rebalances (as when a leader change moves the group
 * coordinator): those are skipped, never counted twice.
 */
export async function readTopic(brokers: string[], topic: string, timeoutMs = 30_000): Promise<TopicMessage[]> {
  const kafka = client(brokers);
  const offsets = await endOffsets(brokers, topic, timeoutMs);
  const wanted = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  let remaining = [...wanted.values()].reduce((n, high) => n + high, 0n);
  const messages: TopicMessage[] = [];
  if (remaining === 0n) return messages;
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      /** Next offset to keep, by partition: a partition's messages come in order, so a repeat is below it. */
      const next = new Map<number, bigint>();
      const timer = setTimeout(() => {
        const short = [...wanted]
          .filter(([p, high]) => (next.get(p) ?? 0n) < high)
          .map(([p, high]) => `${p}: ${next.get(p) ?? 0n} of ${high}`);
        reject(
          new Error(`reading ${topic}: ${remaining} messages missing after ${timeoutMs} ms (${short.join(', ')})`),
        );
      }, timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const offset = BigInt(message.offset);
          if (offset >= (wanted.get(partition) ?? 0n) || offset < (next.get(partition) ?? 0n)) return;
          next.set(partition, offset + 1n);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {}))
            headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
          messages.push({
            partition,
            offset: message.offset,
            key: message.key?.toString('utf8') ?? '',
            value: message.value ?? Buffer.alloc(0),
            headers,
          });
          remaining--;
          if (remaining === 0n) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
