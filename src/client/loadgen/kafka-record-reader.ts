/**
 * `--verify-kafka host:port --verify-topic T`: reads the topic from the
 * beginning with a consumer group of its own, feeding every message to the
 * verifier (headers as attributes, the value as an audio record's payload,
 * docs/protocol.md 3), until every frame sent has been found, or every
 * partition was read up to the offsets it had when reading began and the
 * deadline has passed (at twice the deadline it stops whatever it has read).
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { FrameVerifier } from './frame-verifier';

export async function verifyFromKafka(
  brokers: string,
  topic: string,
  verifier: FrameVerifier,
  timeoutMs: number,
): Promise<void> {
  const kafka = new Kafka({ clientId: 'ingest-loadgen', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let offsets: Array<{ partition: number; high: string }>;
  try {
    offsets = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const high = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const behind = new Set(offsets.filter((o) => BigInt(o.high) > 0n).map((o) => o.partition));
  const consumer = kafka.consumer({ groupId: `ingest-loadgen-verify-${randomBytes(6).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const deadline = Date.now() + timeoutMs;
    await new Promise<void>((resolve, reject) => {
      const check = (): boolean => {
        const now = Date.now();
        // Past the deadline: stop once caught up; past twice the deadline, stop anyway (what was unread is missing).
        if (verifier.complete || (now >= deadline && behind.size === 0) || now >= deadline + timeoutMs) {
          clearInterval(poll);
          resolve();
          return true;
        }
        return false;
      };
      const poll = setInterval(check, 250);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const fields = new Map<string, Buffer>();
            for (const [name, value] of Object.entries(message.headers ?? {})) {
              if (value !== undefined) fields.set(name, Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
            }
            if (fields.get('type')?.toString() === 'audio') fields.set('payload', message.value ?? Buffer.alloc(0));
            verifier.add(fields);
            if (BigInt(message.offset) + 1n >= (high.get(partition) ?? 0n)) behind.delete(partition);
            check();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}
