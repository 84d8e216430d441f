/**
 * Reads records from a Kafka topic with a kafkajs consumer group (the caller
 * passes its own `Kafka` instance: kafkajs stays an optional peer). Without
 * `follow` it reads every partition up to the end offset it found at start
 * (the high watermark) and stops; with `follow` it runs until `stop()`.
 * Offsets are committed only when the caller says so (`commit`), after it has
 * used the messages: a group member that stops early reads them again.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { ConsumerError } from './consumer-error.js';

export interface KafkaMessageIn {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, Buffer | string | Array<Buffer | string> | undefined>> | undefined;
  readonly value: Buffer | null;
}

export interface KafkaReadOptions {
  readonly topic: string;
  readonly groupId: string;
  /** Keep reading after the end offsets found at start. */
  readonly follow?: boolean;
  /** Where a group without committed offsets starts: the topic's beginning (default) or its end. */
  readonly fromBeginning?: boolean;
  /** Each message, in partition order; the reader waits for the promise. */
  readonly onMessage: (message: KafkaMessageIn) => void | Promise<void>;
}

/** A running read: `done` settles when it stopped (at the end offsets, or on `stop()`), rejecting on failure. */
export class KafkaTopicReader {
  private readonly consumer: Consumer;
  private readonly next = new Map<number, bigint>();
  private ends = new Map<number, bigint>();
  private finish: (() => void) | undefined;
  private fail: ((error: Error) => void) | undefined;
  private stopped = false;
  /** Whether the consumer joined its group and ran (kafkajs commits only from a running consumer). */
  private running = false;
  readonly done: Promise<void>;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaReadOptions,
  ) {
    this.consumer = kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false });
    this.done = new Promise<void>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
    // Never an unhandled rejection: the caller awaits `done`.
    this.done.catch(() => undefined);
  }

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      if (!(await admin.listTopics()).includes(this.options.topic))
        throw new ConsumerError('backend_failed', `Kafka topic ${this.options.topic} does not exist`);
      const offsets = await admin.fetchTopicOffsets(this.options.topic);
      this.ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
      const committed = await admin.fetchOffsets({ groupId: this.options.groupId, topics: [this.options.topic] });
      for (const { partitions } of committed)
        for (const p of partitions) if (BigInt(p.offset) >= 0n) this.next.set(p.partition, BigInt(p.offset));
      if (this.options.fromBeginning === false)
        for (const o of offsets) if (!this.next.has(o.partition)) this.next.set(o.partition, BigInt(o.high));
    } catch (error) {
      if (error instanceof ConsumerError) throw error;
      throw new ConsumerError('backend_failed', `Kafka: ${(error as Error).message}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    this.consumer.on(this.consumer.events.CRASH, (event) => this.fail?.(event.payload.error));
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: this.options.fromBeginning ?? true });
    if (this.caughtUp()) return this.end();
    this.running = true;
    void this.consumer
      .run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (this.stopped) return;
          const offset = BigInt(message.offset);
          // After a rebalance a consumer delivers some messages again; a partition's come in order.
          if (offset < (this.next.get(partition) ?? 0n)) return;
          await this.options.onMessage({
            partition,
            offset: message.offset,
            timestamp: Number(message.timestamp),
            headers: message.headers,
            value: message.value,
          });
          this.next.set(partition, offset + 1n);
          if (this.caughtUp()) this.end();
        },
      })
      .catch((error: Error) => this.fail?.(error));
  }

  /** Next offset to read by partition (what a commit of everything used so far would store). */
  positions(): ReadonlyMap<number, bigint> {
    return this.next;
  }

  /** Commits, for the group, that everything before these offsets has been used. */
  async commit(offsets: ReadonlyMap<number, bigint>): Promise<void> {
    const entries = [...offsets].map(([partition, offset]) => ({
      topic: this.options.topic,
      partition,
      offset: String(offset),
    }));
    // A reader that found nothing to read never ran: it has nothing to commit.
    if (entries.length > 0 && this.running) await this.consumer.commitOffsets(entries);
  }

  /** Stops reading; `done` resolves. Idempotent. The consumer stays connected for `commit` until `close()`. */
  stop(): void {
    this.end();
  }

  async close(): Promise<void> {
    this.end();
    await this.consumer.disconnect();
  }

  private caughtUp(): boolean {
    if (this.options.follow) return false;
    return [...this.ends].every(([p, end]) => (this.next.get(p) ?? 0n) >= end);
  }

  private end(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.finish?.();
  }
}
