/**
 * A scripted stand-in for kafkajs's Kafka client, for pure-logic tests of the
 * kafka adapter: the producer keeps sequence numbers as kafkajs 2.2.4's does
 * (per partition, rolled back when a produce fails: producer/sendMessages.js),
 * and the "broker" checks them as Kafka's idempotence does: a batch whose
 * sequences repeat the last one stored is a duplicate (answered as a success,
 * not stored), any other gap is OUT_OF_ORDER_SEQUENCE_NUMBER, and a producer id
 * the broker does not know is UNKNOWN_PRODUCER_ID. A test scripts the next
 * produce: stored with its answer lost, or refused with an error of its choice.
 *
 * install() replaces Kafka.prototype.producer and .admin for one test, so the
 * adapter under test (KafkaPublisher, unchanged) builds its clients as usual.
 */
import type { TestContext } from 'node:test';
import { Kafka, Partitioners, type Message, type PartitionMetadata, type ProducerRecord } from 'kafkajs';

export interface StoredRecord {
  readonly partition: number;
  readonly producerId: number;
  readonly message: Message;
}

export type ScriptedFault =
  /** The broker stores the batch, the answer never arrives (a leader that died after its followers copied it). */
  | { kind: 'stored-answer-lost' }
  /** The broker refuses the batch with this protocol error (not stored). */
  | { kind: 'refused'; type: string };

/** kafkajs's KafkaJSProtocolError as the adapter sees it after kafkajs gave up (type and retriable). */
function protocolError(type: string): Error {
  const retriable = !['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH'].includes(type);
  return Object.assign(new Error(`broker refused the batch: ${type}`), {
    name: 'KafkaJSProtocolError',
    type,
    retriable,
  });
}

interface ProducerState {
  /** Sequence of the next record the broker expects. */
  nextSequence: number;
  /** The last batch stored: a batch with the same sequences is its retry. */
  lastBatch?: { firstSequence: number; count: number };
}

export class ScriptedIdempotentKafka {
  readonly stored: StoredRecord[] = [];
  /** Every produce request, as it reached the broker. */
  readonly requests: Array<{ producerId: number; partition: number; firstSequence: number; count: number }> = [];
  /** Every producer.send call, with the partitions its messages went to. */
  readonly sends: Array<{ producerId: number; partitions: number[] }> = [];
  producersCreated = 0;
  private readonly faults: ScriptedFault[] = [];
  private readonly state = new Map<string, ProducerState>();
  /** Producer ids the broker refuses for good, with the error it answers. */
  private readonly refusedProducers = new Map<number, string>();
  private nextProducerId = 1000;
  readonly partitionMetadata: PartitionMetadata[];

  constructor(
    readonly topic: string,
    partitions = 1,
  ) {
    this.partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
      offlineReplicas: [],
    }));
  }

  /** The next produce request meets `fault`. */
  script(fault: ScriptedFault): void {
    this.faults.push(fault);
  }

  /**
   * From now on the broker refuses every batch of `producerId` with `type`:
   * UNKNOWN_PRODUCER_ID (its state expired), INVALID_PRODUCER_EPOCH (fenced).
   */
  refuseProducer(producerId: number, type: string): void {
    this.refusedProducers.set(producerId, type);
  }

  /** The producer id of the latest produce request. */
  get lastProducerId(): number {
    return this.requests.at(-1)?.producerId ?? -1;
  }

  install(t: TestContext): void {
    t.mock.method(Kafka.prototype, 'producer', () => this.producer());
    t.mock.method(Kafka.prototype, 'admin', () => this.admin());
  }

  private produce(producerId: number, partition: number, firstSequence: number, messages: Message[]): void {
    this.requests.push({ producerId, partition, firstSequence, count: messages.length });
    const fault = this.faults.shift();
    if (fault?.kind === 'refused') throw protocolError(fault.type);
    const key = `${producerId}/${partition}`;
    const refusal = this.refusedProducers.get(producerId);
    if (refusal) throw protocolError(refusal);
    const state = this.state.get(key) ?? { nextSequence: 0 };
    const last = state.lastBatch;
    if (last && last.firstSequence === firstSequence && last.count === messages.length) return; // a duplicate: "ok"
    if (firstSequence !== state.nextSequence) throw protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER');
    for (const message of messages) this.stored.push({ partition, producerId, message });
    state.nextSequence = firstSequence + messages.length;
    state.lastBatch = { firstSequence, count: messages.length };
    this.state.set(key, state);
    if (fault?.kind === 'stored-answer-lost') {
      throw Object.assign(new Error('Request Produce(key: 0, version: 7) timed out'), {
        name: 'KafkaJSRequestTimeoutError',
        retriable: true,
      });
    }
  }

  private producer() {
    this.producersCreated++;
    const partitioner = Partitioners.DefaultPartitioner();
    let producerId = -1;
    const sequences = new Map<number, number>();
    const listeners = { on: () => () => undefined };
    return {
      ...listeners,
      events: { CONNECT: 'producer.connect', DISCONNECT: 'producer.disconnect', REQUEST_TIMEOUT: 'producer.timeout' },
      connect: (): Promise<void> => {
        // InitProducerId, as kafkajs's producer.connect() does once per producer.
        if (producerId < 0) producerId = this.nextProducerId++;
        return Promise.resolve();
      },
      disconnect: () => Promise.resolve(),
      // kafkajs: group by partition, take each partition's sequence, roll it back if the produce fails.
      send: (record: ProducerRecord) => {
        const byPartition = new Map<number, Message[]>();
        for (const message of record.messages) {
          const partition = partitioner({
            topic: record.topic,
            partitionMetadata: this.partitionMetadata,
            message,
          });
          byPartition.set(partition, [...(byPartition.get(partition) ?? []), message]);
        }
        this.sends.push({ producerId, partitions: [...byPartition.keys()] });
        for (const [partition, messages] of byPartition) {
          const firstSequence = sequences.get(partition) ?? 0;
          sequences.set(partition, firstSequence + messages.length);
          try {
            this.produce(producerId, partition, firstSequence, messages);
          } catch (err) {
            sequences.set(partition, firstSequence);
            return Promise.reject(err instanceof Error ? err : new Error(String(err)));
          }
        }
        return Promise.resolve([]);
      },
    };
  }

  private admin() {
    return {
      connect: () => Promise.resolve(),
      disconnect: () => Promise.resolve(),
      listTopics: () => Promise.resolve([this.topic]),
      describeConfigs: () =>
        Promise.resolve({
          resources: [{ configEntries: [{ configName: 'max.message.bytes', configValue: String(64 * 1024 * 1024) }] }],
        }),
      fetchTopicMetadata: () => Promise.resolve({ topics: [{ name: this.topic, partitions: this.partitionMetadata }] }),
    };
  }
}
