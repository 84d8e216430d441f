/**
 * `--verify-kafka host:port --verify-topic T`: notes each partition's end
 * offset before the run (`markKafka`), then reads the topic from the
 * beginning with a consumer group of its own, feeding every message to the
 * verifier (headers as attributes, the value as an audio record's payload,
 * docs/protocol.md 3; messages below the mark as stored before the run). It
 * reads every partition up to its end offset, so duplicates and out-of-order
 * copies after the last frame found are counted too; caught up with frames
 * still missing, it looks for new end offsets until the deadline (at twice
 * the deadline it stops whatever it has read). A crashed consumer fails it.
 * It also tallies this run's records and interactions by partition (the
 * report's `verify.partitions`, partition-spread.ts).
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { FrameVerifier } from './frame-verifier';
import { PartitionSpread, type PartitionTally } from './partition-spread';

const POLL_MS = 250;

/** End offset by partition. */
export type KafkaMark = ReadonlyMap<number, bigint>;

function kafkaOf(brokers: string): Kafka {
  return new Kafka({ clientId: 'ingest-loadgen', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

type TopicOffsets = Awaited<ReturnType<Admin['fetchTopicOffsets']>>;

/** End offset by partition, leaving out partitions that hold nothing (retention may have emptied them). */
function endsOf(offsets: TopicOffsets): Map<number, bigint> {
  return new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
}

async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  return endsOf(await admin.fetchTopicOffsets(topic));
}

/** Each partition's end offset before the run; none when the topic does not exist yet. */
export async function markKafka(brokers: string, topic: string): Promise<KafkaMark> {
  const admin = kafkaOf(brokers).admin();
  await admin.connect();
  try {
    // Asked for an unknown topic's offsets, kafkajs retries for seconds before it fails.
    if (!(await admin.listTopics()).includes(topic)) return new Map();
    return await endOffsets(admin, topic);
  } finally {
    await admin.disconnect();
  }
}

export async function verifyFromKafka(
  brokers: string,
  topic: string,
  verifier: FrameVerifier,
  timeoutMs: number,
  mark: KafkaMark,
): Promise<PartitionTally[]> {
  const kafka = kafkaOf(brokers);
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: `ingest-loadgen-verify-${randomBytes(6).toString('hex')}` });
  let poll: NodeJS.Timeout | undefined;
  let removeCrash: (() => void) | undefined;
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    const spread = new PartitionSpread(offsets.map((o) => o.partition));
    let high = endsOf(offsets);
    /** The next offset to read, by partition. */
    const next = new Map<number, bigint>();
    const caughtUp = (): boolean => [...high].every(([p, end]) => (next.get(p) ?? 0n) >= end);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const deadline = Date.now() + timeoutMs;
    await new Promise<void>((resolve, reject) => {
      let refreshing = false;
      const check = (): void => {
        const now = Date.now();
        if (now >= deadline + timeoutMs) return resolve(); // what is still unread counts as missing
        if (!caughtUp()) return;
        if (verifier.complete || now >= deadline) return resolve();
        // Caught up with frames still missing: records may still be arriving, so look for a new end.
        if (refreshing) return;
        refreshing = true;
        endOffsets(admin, topic).then((ends) => {
          high = ends;
          refreshing = false;
        }, reject);
      };
      poll = setInterval(check, POLL_MS);
      removeCrash = consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const offset = BigInt(message.offset);
            // After a group rebalance the consumer delivers some messages again: a
            // partition's messages come in order, so a repeat is below the next offset.
            if (offset < (next.get(partition) ?? 0n)) return Promise.resolve();
            const fields = new Map<string, Buffer>();
            for (const [name, value] of Object.entries(message.headers ?? {})) {
              if (value !== undefined) fields.set(name, Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
            }
            if (fields.get('type')?.toString() === 'audio') fields.set('payload', message.value ?? Buffer.alloc(0));
            if (verifier.add(fields, offset < (mark.get(partition) ?? 0n)))
              spread.add(partition, fields.get('interaction_id')!.toString());
            next.set(partition, offset + 1n);
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
    return spread.summary();
  } finally {
    clearInterval(poll);
    removeCrash?.();
    await consumer.disconnect();
    await admin.disconnect();
  }
}
