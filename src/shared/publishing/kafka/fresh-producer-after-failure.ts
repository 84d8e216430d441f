/**
 * The idempotent producer's identity rule (docs/kafka.md, "A failed send"):
 * after a send fails, nothing more goes out under that producer id.
 *
 * kafkajs 2.2.4 rolls a partition's sequence number back when a produce fails
 * (producer/sendMessages.js), and the next send reuses it for whatever batch
 * comes next. If the broker had stored the failed batch (the answer was lost,
 * the leader died after its followers copied it), a next batch of the same size
 * is taken for a retry of it and dropped while the send resolves: records
 * confirmed that were never stored. A batch of another size is answered
 * OUT_OF_ORDER_SEQUENCE_NUMBER, and so is every one after it. A new producer
 * (InitProducerId: a new producer id, sequences from 0) has nothing to collide
 * with, and it is also the only way out of UNKNOWN_PRODUCER_ID and
 * INVALID_PRODUCER_EPOCH. The records of the failed send go back to their
 * streams, which send them again (at least once: a copy may already be stored).
 *
 * Sends of one identity may run concurrently (one per partition); a
 * replacement waits until every send of the old identity has settled, so no
 * send runs on two identities and no rollback lands on the new one's sequences.
 * A producer whose connect failed (brokers down) is connected again on the
 * next send, not replaced: it has no identity yet.
 */
import type { ProducerRecord, RecordMetadata } from 'kafkajs';
import { IngestError } from '../../errors';

/** The part of a kafkajs Producer this needs (a test gives a scripted one). */
export interface ProducerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(record: ProducerRecord): Promise<RecordMetadata[]>;
}

export class FreshProducerAfterFailure<P extends ProducerLike> {
  private producer: P | undefined;
  private connected = false;
  /** A send of the current producer failed: it sends nothing more. */
  private spent: unknown;
  private inFlight = 0;
  private drainWaiters: Array<() => void> = [];
  private readying: Promise<P> | undefined;
  private closed = false;

  /**
   * `create` makes a producer that is not connected yet (the first one at
   * once); `onReplace` hears why the current one is retired (the error of its
   * failed send), before the new one connects.
   */
  constructor(
    private readonly create: () => P,
    private readonly onReplace?: (cause: unknown) => void,
  ) {
    this.producer = create();
  }

  /** The producer sends go through now, if any (events of any other are a retired one's). */
  get current(): P | undefined {
    return this.producer;
  }

  /** Connects the first producer (InitProducerId). */
  async connect(): Promise<void> {
    await this.ready();
  }

  /**
   * One send. A failure retires the producer it ran on; the next send first
   * waits for the other sends of that producer, then goes out on a new one.
   */
  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    let producer = await this.ready();
    // Another send may have failed while this one waited for the producer: it is retired then.
    while (producer !== this.producer || this.spent !== undefined) producer = await this.ready();
    this.inFlight++;
    try {
      return await producer.send(record);
    } catch (err) {
      if (producer === this.producer && this.spent === undefined) this.spent = err ?? new Error('send failed');
      throw err;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }

  /** Waits for sends under way and any connect, then disconnects (rejects only if that fails). */
  async close(): Promise<void> {
    this.closed = true;
    await this.readying?.catch(() => undefined);
    await this.drained();
    const producer = this.producer;
    this.producer = undefined;
    this.connected = false;
    await producer?.disconnect();
  }

  private ready(): Promise<P> {
    if (this.closed) return Promise.reject(new IngestError('publisher_closed', 'kafka producer closed'));
    if (this.producer && this.connected && this.spent === undefined) return Promise.resolve(this.producer);
    this.readying ??= this.replaceOrConnect().finally(() => {
      this.readying = undefined;
    });
    return this.readying;
  }

  private async replaceOrConnect(): Promise<P> {
    if (this.spent !== undefined) {
      await this.drained();
      const retired = this.producer;
      const cause = this.spent;
      this.producer = undefined; // from here on its events are a retired producer's
      this.connected = false;
      this.spent = undefined;
      this.onReplace?.(cause);
      await retired?.disconnect().catch(() => undefined);
    }
    if (this.closed) throw new IngestError('publisher_closed', 'kafka producer closed');
    const producer = (this.producer ??= this.create());
    await producer.connect();
    this.connected = true;
    return producer;
  }

  private drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}
