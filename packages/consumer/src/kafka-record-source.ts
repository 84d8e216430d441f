/**
 * Reads records from a Kafka topic with a kafkajs consumer group (the caller
 * passes its own `Kafka` instance: kafkajs stays an optional peer). Without
 * `follow` it reads every partition the group gave it up to the end offset it
 * found at start (the high watermark) and stops; with `follow` it runs until
 * `stop()`. Each partition is read from the group's committed offset, or the
 * partition's first offset still held when that is later (retention deleted
 * what came before) or when the group has none.
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
  /** The partitions the group gave this member (undefined until it joined). */
  private assigned: readonly number[] | undefined;
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
      const stored = new Map<number, bigint>();
      for (const { partitions } of committed)
        for (const p of partitions) if (BigInt(p.offset) >= 0n) stored.set(p.partition, BigInt(p.offset));
      for (const o of offsets) {
        const low = BigInt(o.low);
        const start = stored.get(o.partition) ?? (this.options.fromBeginning === false ? BigInt(o.high) : low);
        this.next.set(o.partition, start > low ? start : low);
      }
    } catch (error) {
      if (error instanceof ConsumerError) throw error;
      throw new ConsumerError('backend_failed', `Kafka: ${(error as Error).message}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    this.consumer.on(this.consumer.events.CRASH, (event) => this.fail?.(event.payload.error));
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.assigned = event.payload.memberAssignment[this.options.topic] ?? [];
      if (this.caughtUp()) this.end();
    });
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
          try {
            await this.options.onMessage({
              partition,
              offset: message.offset,
              timestamp: Number(message.timestamp),
              headers: message.headers,
              value: message.value,
            });
          } catch (error) {
            // kafkajs would deliver the message again and again: the caller's failure ends the read instead.
            this.abort(error as Error);
            return;
          }
          this.next.set(partition, offset + 1n);
          if (this.caughtUp()) this.end();
        },
      })
      .catch((error: Error) => this.fail?.(error));
  }

  /**
   * Next offset to read of each partition this member reads (what a commit of everything used so far would
   * store); none before the group gave it partitions.
   */
  positions(): ReadonlyMap<number, bigint> {
    const assigned = this.assigned ?? [];
    return new Map([...this.next].filter(([partition]) => assigned.includes(partition)));
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

  /** Stops reading with an error of the caller's (its handling of a message failed): `done` rejects with it. */
  abort(error: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.fail?.(error);
  }

  async close(): Promise<void> {
    this.end();
    await this.consumer.disconnect();
  }

  /** Whether every partition this member reads is read to its end offset (never with `follow`). */
  private caughtUp(): boolean {
    if (this.options.follow) return false;
    const read = (p: number): boolean => (this.next.get(p) ?? 0n) >= (this.ends.get(p) ?? 0n);
    // Before the group gave partitions, only a topic with nothing to read at all is done.
    if (this.assigned === undefined) return [...this.ends.keys()].every(read);
    return this.assigned.every(read);
  }

  private end(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.finish?.();
  }
}
