/**
 * The kafka adapter (protocol.md section 3): topic KAFKA_TOPIC, message key =
 * interaction_id (one interaction stays in one partition, in order), the
 * record's attributes as headers, the raw payload as the value of `audio`
 * records and a JSON object as the value of the other types.
 *
 * Ordering: the caller keeps one record per stream in flight (record k+1 is
 * sent only after k is confirmed), so per-stream order never depends on the
 * producer; the idempotent producer (acks=-1) removes the duplicates its own
 * internal retries could add. Records of different streams published in the
 * same tick go out together, one send per partition, and while those are in
 * flight the next ones gather: batching under load, no added latency when idle.
 *
 * Nothing confirmed may be missing (docs/kafka.md, "A failed send"):
 *  - after a failed send nothing more goes out under that producer id; the
 *    next send goes through a new producer (fresh-producer-after-failure.ts).
 *  - one send carries one partition: kafkajs retries a multi-broker send only
 *    towards brokers that have not answered yet, so a partition whose leader
 *    moved to a broker that already answered would be skipped, and the send
 *    would resolve without it. The adapter picks partitions itself (kafkajs's
 *    default partitioner, murmur2 on the key over the partition count read at start).
 *
 * kafkajs is unmaintained upstream; everything kafkajs-specific stays in this
 * file so that a move to @confluentinc/kafka-javascript touches only it.
 * Defects worked around here (see docs/kafka.md):
 *  - producer.disconnect() does not wait for sends still being retried
 *    (kafkajs #879): close() waits for our own in-flight batches first.
 *  - exhausted retries surface as KafkaJSNumberOfRetriesExceeded and a severed
 *    connection raises no event (kafkajs #1686, #979): every send failure is
 *    caught and reported as a retryable PublishError, and health follows the
 *    outcome of sends as well as the producer's events.
 *  - an idle connection re-arms a timer with a negative delay after every
 *    response (kafkajs #1704, #1751): a 1 ms poll, and a TimeoutNegativeWarning
 *    on Node.js 24. Fixed below, on loading this module.
 */
import fs from 'node:fs';
import {
  CompressionTypes,
  ConfigResourceTypes,
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type KafkaConfig,
  type Message,
  type PartitionMetadata,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../../config/config-schema';
import { IngestError, PublishError } from '../../errors';
import { ConnectedPublisher } from '../connected-publisher';
import type { AdapterName } from '../publisher';
import { recordAttributes, type IngestRecord } from '../records';
import { FreshProducerAfterFailure } from './fresh-producer-after-failure';

/** What reaching the brokers takes: the publisher's and validate:deployment's probe's (kafkaConnection). */
export type KafkaConnectionConfig = Pick<
  Config,
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'kafkaSsl'
  | 'kafkaSslCaFile'
  | 'kafkaSaslMechanism'
  | 'kafkaSaslUsername'
  | 'kafkaSaslPassword'
  | 'backendConnectTimeoutMs'
>;

export type KafkaPublisherConfig = KafkaConnectionConfig &
  Pick<
    Config,
    | 'kafkaTopic'
    | 'kafkaCompression'
    | 'kafkaCreateTopic'
    | 'kafkaTopicPartitions'
    | 'kafkaTopicReplication'
    | 'maxChunkBytes'
    | 'maxFrameBytes'
  >;

interface KafkajsRequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** The kafkajs release whose RequestQueue the fix below was written against. */
const KAFKAJS_FIXED_VERSION = '2.2.4';
/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL: the retry delay for requests waiting on in-flight ones. */
const CHECK_PENDING_REQUESTS_MS = 10;

/**
 * kafkajs #1704/#1751: after every response, each connection's request queue
 * arms a timer for `throttledUntil - Date.now()` ms. When nothing is throttled
 * that is negative, so every idle connection polls its empty queue each
 * millisecond, and Node.js 24 prints a TimeoutNegativeWarning. Here: the same
 * method, except that with nothing pending and no throttle no timer is armed
 * (nothing can need it: a request pushed later schedules its own check). Only
 * for the version it was written against; true when applied, and a test says
 * so, so that a kafkajs upgrade is checked before it ships.
 */
export const kafkajsRequestQueueFixed: boolean = (() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs internals have no types
  const { version } = require('kafkajs/package.json') as { version: string };
  if (version !== KAFKAJS_FIXED_VERSION) return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs internals have no types
  const RequestQueue = require('kafkajs/src/network/requestQueue') as { prototype: KafkajsRequestQueue };
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: KafkajsRequestQueue): void {
    if (this.throttleCheckTimeoutId) return;
    const throttledFor = this.throttledUntil - Date.now();
    let delay = throttledFor;
    if (this.pending.length > 0) delay = throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_MS;
    else if (throttledFor <= 0) return;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, delay);
  };
  return true;
})();

/** Per send: kafkajs's own retries stay short so failures reach the stream's backoff and health. */
const SEND_RETRIES = 3;
const REQUEST_TIMEOUT_MS = 10_000;
/** Broker verdicts that no retry changes: the record (or the client's rights) must change. */
const PERMANENT_KAFKA_ERRORS: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'TOPIC_AUTHORIZATION_FAILED',
]);
/** Room for a record's headers and the batch framing on top of its payload. */
const RECORD_OVERHEAD_BYTES = 64 * 1024;

/**
 * The largest record the service can produce: a chunk is flushed once it
 * reaches MAX_CHUNK_BYTES, so it holds at most that plus one frame. Kafka's
 * default limit (1 MiB) is below the default chunk size, so a topic must allow this.
 */
export function largestRecordBytes(config: Pick<Config, 'maxChunkBytes' | 'maxFrameBytes'>): number {
  return config.maxChunkBytes + config.maxFrameBytes + RECORD_OVERHEAD_BYTES;
}

interface Pending {
  readonly message: Message;
  /** Bytes the message takes in a record batch (value, key, headers, framing). */
  readonly size: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Per-record framing in a v2 record batch (varints, attributes), rounded up. */
const RECORD_FRAMING_BYTES = 64;

export function messageSize(message: Message): number {
  let size = RECORD_FRAMING_BYTES + Buffer.byteLength(String(message.key ?? '')) + (message.value as Buffer).length;
  for (const [k, v] of Object.entries(message.headers ?? {}))
    size += Buffer.byteLength(k) + Buffer.byteLength(String(v));
  return size;
}

/** The Kafka message for a record: key, headers, value. */
export function kafkaMessage(record: IngestRecord): Message {
  const attributes = recordAttributes(record);
  const headers: Record<string, string> = {};
  for (const [key, value] of attributes) headers[key] = value;
  const value = record.type === 'audio' ? record.payload : Buffer.from(JSON.stringify(record));
  return { key: record.interaction_id, value, headers };
}

export class KafkaPublisher extends ConnectedPublisher {
  readonly adapter: AdapterName = 'kafka';
  private readonly kafka: Kafka;
  private readonly producers: FreshProducerAfterFailure<Producer>;
  /** The same murmur2 choice kafkajs makes, made before the send so that one send carries one partition. */
  private readonly partitioner = Partitioners.DefaultPartitioner();
  /** The topic's partitions as read at start: a key keeps its partition for the publisher's life. */
  private partitionMetadata: PartitionMetadata[] | undefined;
  private prepared: Promise<void> | undefined;
  private readonly brokers: string;
  private queue: Pending[] = [];
  /**
   * Kafka's max.message.bytes limits a whole record batch, not one record: one
   * send never carries more than this, so batching never turns acceptable
   * records into a refused batch.
   */
  private batchLimit: number;
  private sending: Promise<void> | undefined;

  constructor(
    private readonly config: KafkaPublisherConfig,
    private readonly logger?: Logger,
  ) {
    super();
    this.brokers = config.kafkaBrokers.join(',');
    this.batchLimit = largestRecordBytes(config);
    this.kafka = new Kafka({
      ...kafkaConnection(config),
      requestTimeout: REQUEST_TIMEOUT_MS,
      retry: { retries: SEND_RETRIES, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => this.logKafkajs(entry.level, entry.log.message, entry.log),
    });
    this.producers = new FreshProducerAfterFailure(
      () => this.newProducer(),
      (cause) =>
        this.logger?.warn(
          { topic: config.kafkaTopic, err: (cause as Error)?.message },
          'kafka send failed: the next send goes through a new producer id (InitProducerId)',
        ),
    );
    if (this.logger) this.logHealthChanges(this.logger, 'kafka producer', this.brokers);
  }

  private newProducer(): Producer {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner, // keeps the partition the adapter set
    });
    this.watchProducer(producer);
    return producer;
  }

  protected deliver(record: IngestRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      const message = kafkaMessage(record);
      this.queue.push({ message, size: messageSize(message), resolve, reject });
      if (!this.sending) this.sending = this.sendLoop();
    });
  }

  /** One round of sends in flight (one per partition); what arrives meanwhile forms the next round. */
  private async sendLoop(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // gather this tick's publishes
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      await Promise.all(this.byPartition(batch).map((records) => this.sendPartition(records)));
    }
    this.sending = undefined;
  }

  private async sendPartition(records: Pending[]): Promise<void> {
    const error = await this.send(records);
    if (error && !error.retryable && records.length > 1) {
      // The broker refused the batch for good: find the record it refuses,
      // so that other streams' records in the same batch are not refused with it.
      for (const pending of records) await this.send([pending]);
    }
  }

  /** A batch split by partition, each record marked with its partition; order kept within each. */
  private byPartition(batch: Pending[]): Pending[][] {
    const partitionMetadata = this.partitionMetadata;
    if (!partitionMetadata) return [batch]; // not started: the send fails as retryable
    const groups = new Map<number, Pending[]>();
    for (const pending of batch) {
      const message = pending.message;
      message.partition ??= this.partitioner({ topic: this.config.kafkaTopic, partitionMetadata, message });
      const group = groups.get(message.partition);
      if (group) group.push(pending);
      else groups.set(message.partition, [pending]);
    }
    return [...groups.values()];
  }

  /**
   * One produce request (one partition); settles every record in it. Returns
   * the error, if any, without settling on a permanent one for a batch.
   */
  private async send(batch: Pending[]): Promise<PublishError | undefined> {
    try {
      await this.prepared;
      if (!this.partitionMetadata) throw new Error('the kafka publisher is not connected yet');
      await this.producers.send({
        topic: this.config.kafkaTopic,
        acks: -1,
        compression: this.config.kafkaCompression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: batch.map((p) => p.message),
      });
      this.healthTracker.markUp();
      for (const p of batch) p.resolve();
      return undefined;
    } catch (err) {
      const error = this.toPublishError(err);
      if (error.retryable) this.healthTracker.markFailing(error.message);
      if (error.retryable || batch.length === 1) for (const p of batch) p.reject(error);
      return error;
    }
  }

  /** The oldest queued messages up to batchLimit bytes (always at least one). */
  private takeBatch(): Pending[] {
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || bytes + this.queue[count].size <= this.batchLimit)) {
      bytes += this.queue[count].size;
      count++;
    }
    return this.queue.splice(0, count);
  }

  protected async connect(): Promise<void> {
    const admin = this.kafka.admin();
    const deadline = this.config.backendConnectTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new IngestError(
              'backend_unavailable',
              `kafka brokers ${this.brokers} were not reachable within ${deadline} ms`,
            ),
          ),
        deadline,
      );
    });
    this.prepared = Promise.race([this.prepare(admin), timeout]);
    try {
      await this.prepared;
    } catch (err) {
      await Promise.allSettled([admin.disconnect(), this.producers.close()]);
      if (err instanceof IngestError) throw err;
      throw new IngestError('backend_unavailable', `kafka brokers ${this.brokers}: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Checks (or creates) the topic, then connects the producer. */
  private async prepare(admin: Admin): Promise<void> {
    await admin.connect();
    const topic = this.config.kafkaTopic;
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      if (!this.config.kafkaCreateTopic) {
        throw new IngestError(
          'topic_missing',
          `kafka topic "${topic}" does not exist on ${this.brokers}; create it or set KAFKA_CREATE_TOPIC=true`,
        );
      }
      await admin.createTopics({
        waitForLeaders: false, // see waitForLeaders below
        topics: [
          {
            topic,
            numPartitions: this.config.kafkaTopicPartitions,
            replicationFactor: this.config.kafkaTopicReplication,
            configEntries: [{ name: 'max.message.bytes', value: String(largestRecordBytes(this.config)) }],
          },
        ],
      });
      this.partitionMetadata = await this.waitForLeaders(admin, topic);
      this.logger?.info({ topic, partitions: this.config.kafkaTopicPartitions }, 'kafka topic created');
    } else {
      await this.checkTopicLimit(admin, topic);
      // Only the count: a partition without a leader now (a broker down) fails its sends, not the start.
      const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      if (!metadata || metadata.partitions.length === 0) throw new Error(`kafka topic "${topic}" has no partitions`);
      this.partitionMetadata = metadata.partitions;
    }
    await admin.disconnect();
    await this.producers.connect();
    this.healthTracker.markUp();
  }

  /**
   * Waits until every partition of a topic has a leader; returns its partitions. A KRaft
   * broker learns of a new topic a moment after CreateTopics answers, and
   * kafkajs's own wait (createTopics waitForLeaders) gives up at once on the
   * UNKNOWN_TOPIC_OR_PARTITION of that moment (seen in about 1 of 20 creations
   * on a busy single-node broker, 3.9 and 4.x alike).
   */
  private async waitForLeaders(admin: Admin, topic: string): Promise<PartitionMetadata[]> {
    const until = Date.now() + this.config.backendConnectTimeoutMs;
    for (let delayMs = 20; ; delayMs = Math.min(delayMs * 2, 500)) {
      try {
        const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
        if (metadata && metadata.partitions.length > 0 && metadata.partitions.every((p) => p.leader >= 0))
          return metadata.partitions;
      } catch (err) {
        const e = err as { type?: string; originalError?: { type?: string } };
        const type = e.type ?? e.originalError?.type;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw err;
      }
      if (Date.now() >= until) throw new Error(`kafka topic "${topic}" was created but has no leader yet`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  /** An existing topic that cannot take a full chunk would refuse records for good (1011): say so at start. */
  private async checkTopicLimit(admin: Admin, topic: string): Promise<void> {
    let described;
    try {
      described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
      });
    } catch (err) {
      this.logger?.warn(
        { topic, err: (err as Error).message },
        "could not read the topic's max.message.bytes (missing DescribeConfigs permission?); not checked",
      );
      return;
    }
    const entry = described.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes');
    const limit = Number(entry?.configValue);
    const needed = largestRecordBytes(this.config);
    if (Number.isFinite(limit) && limit > 0) this.batchLimit = limit;
    if (Number.isFinite(limit) && limit < needed) {
      this.logger?.warn(
        { topic, max_message_bytes: limit, needed },
        `kafka topic ${topic} accepts records up to ${limit} bytes, but a full chunk needs ${needed}: raise ` +
          `its max.message.bytes or lower MAX_CHUNK_BYTES, or large records will be refused (close 1011)`,
      );
    }
  }

  /** Events of a retired producer (replaced after a failed send) say nothing about the brokers. */
  private watchProducer(producer: Producer): void {
    const { CONNECT, DISCONNECT, REQUEST_TIMEOUT } = producer.events;
    const current = () => producer === this.producers.current && !this.closed;
    producer.on(CONNECT, () => {
      if (current()) this.healthTracker.markUp();
    });
    producer.on(DISCONNECT, () => {
      if (current()) this.healthTracker.markDown(`disconnected from kafka brokers ${this.brokers}`);
    });
    producer.on(REQUEST_TIMEOUT, () => {
      if (current()) this.healthTracker.markFailing('kafka request timed out');
    });
  }

  private toPublishError(err: unknown): PublishError {
    const e = err as { name?: string; message?: string; type?: string; cause?: { type?: string } };
    // Everything kafkajs raises on send is either a broker/connection condition
    // (retry later) or a record the broker refuses for good (too large, invalid).
    // kafkajs wraps some protocol errors (KafkaJSNonRetriableError): look inside.
    const type = e.type ?? e.cause?.type;
    const permanent = type !== undefined && PERMANENT_KAFKA_ERRORS.has(type);
    return new PublishError(
      `send to kafka topic ${this.config.kafkaTopic} failed: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`,
      !permanent,
      { cause: err },
    );
  }

  protected async shutdown(): Promise<void> {
    if (this.sending) await this.sending.catch(() => undefined);
    await this.producers
      .close()
      .catch((err: Error) => this.logger?.warn({ err: err.message }, 'kafka producer disconnect failed'));
  }

  private logKafkajs(level: logLevel, message: string, fields: Record<string, unknown>): void {
    if (!this.logger) return;
    const { timestamp: _t, logger: _l, message: _m, ...rest } = fields;
    const entry = { kafkajs: rest };
    if (level === logLevel.ERROR) this.logger.error(entry, `kafkajs: ${message}`);
    else if (level === logLevel.WARN) this.logger.warn(entry, `kafkajs: ${message}`);
    else this.logger.debug(entry, `kafkajs: ${message}`);
  }
}

/**
 * How a client reaches the brokers (addresses, timeout, TLS, SASL): the
 * publisher's and `npm run validate:deployment`'s probe, so the probe tests
 * the connection the workers will make.
 */
export function kafkaConnection(
  config: KafkaConnectionConfig,
): Pick<KafkaConfig, 'clientId' | 'brokers' | 'connectionTimeout' | 'ssl' | 'sasl'> {
  return {
    clientId: config.kafkaClientId,
    brokers: config.kafkaBrokers,
    connectionTimeout: Math.min(config.backendConnectTimeoutMs, 10_000),
    ssl: config.kafkaSsl
      ? config.kafkaSslCaFile
        ? { ca: [fs.readFileSync(config.kafkaSslCaFile, 'utf8')] }
        : true
      : false,
    ...(config.kafkaSaslMechanism ? { sasl: saslOptions(config) } : {}),
  };
}

function saslOptions(
  config: Pick<KafkaPublisherConfig, 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword'>,
): SASLOptions {
  const credentials = { username: config.kafkaSaslUsername, password: config.kafkaSaslPassword };
  switch (config.kafkaSaslMechanism) {
    case 'plain':
      return { mechanism: 'plain', ...credentials };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', ...credentials };
    default:
      return { mechanism: 'scram-sha-512', ...credentials };
  }
}
