/**
 * A private Kafka broker for one chaos run (ops/dev/kafka.sh on ports of its
 * own, through test/support/backends/kafka-broker.js), with a topic of the
 * run's own that the service creates. A restart stops the broker (SIGTERM,
 * the script's clean stop) and starts it again on the same ports and data.
 *
 * No network faults here: a Kafka client connects to the address the broker
 * advertises, not to the one it was given, so a proxy in front would only
 * see the first metadata request. Cutting the broker's network needs
 * advertised listeners pointing at a proxy, which ops/dev/kafka.sh does not set.
 */
import type { KafkaControl } from '../support/backends/kafka-broker';
import { messageFields, type FieldMap } from '../support/field-map';
import { freePorts } from '../support/free-port';
import { kafkaBroker, readTopic } from '../support/kafka';
import type { ChaosBackend } from './chaos-backend';

const READ_TIMEOUT_MS = 300_000;

export class KafkaBackend implements ChaosBackend {
  readonly kind = 'kafka';
  readonly proxy = undefined;
  private broker: KafkaControl | undefined;

  constructor(private readonly topic: string) {}

  async start(): Promise<void> {
    const [port, controllerPort] = await freePorts(2);
    this.broker = kafkaBroker.restartable({ port, controllerPort });
    await this.broker.start();
  }

  serviceEnv(): Record<string, string> {
    const broker = this.required();
    return {
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_TOPIC: this.topic,
      KAFKA_CREATE_TOPIC: 'true',
    };
  }

  async restart(downMs: number): Promise<number> {
    const broker = this.required();
    await broker.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    const started = performance.now();
    await broker.start();
    return performance.now() - started;
  }

  async readAll(onRecord: (record: FieldMap) => void): Promise<number> {
    const messages = await readTopic(this.required().brokers, this.topic, READ_TIMEOUT_MS);
    for (const message of messages) onRecord(messageFields(message));
    return messages.length;
  }

  async close(): Promise<void> {
    const broker = this.broker;
    this.broker = undefined;
    await broker?.reset();
  }

  private required(): KafkaControl {
    if (!this.broker) throw new Error('kafka backend not started');
    return this.broker;
  }
}
