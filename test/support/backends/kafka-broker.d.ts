// Types for kafka-broker.js, for TypeScript tests. tsc does not copy .js files
// into dist/, so load the module by its path in the repository:
//   type KafkaBroker = typeof import('./kafka-broker');
//   const { restartable } = require(
//     path.join(process.env.INGEST_TEST_ROOT ?? process.cwd(), 'test/support/backends/kafka-broker.js'),
//   ) as KafkaBroker;

/** A broker a test may stop and start again on the same ports and data. */
export interface KafkaControl {
  /** kafkajs `brokers` list for this broker. */
  readonly brokers: string[];
  /** First call: fresh data. After stop(): restart with the data kept. Resolves once the broker answers. */
  start(): Promise<void>;
  /** Clean stop (SIGTERM, SIGKILL after 30 s); the data dir is kept. */
  stop(): Promise<void>;
  /** Stops the broker and deletes its data dir and log. */
  reset(): Promise<void>;
}

export const KAFKA_HOST: string;
export const KAFKA_PORT: number;
/** The shared broker (127.0.0.1:9092 unless KAFKA_PORT says otherwise). */
export const KAFKA_BROKERS: string[];
/** The older release line the publisher contract also runs against (3.9.x). */
export const LEGACY_KAFKA_VERSION: string;

/** Makes sure the shared broker answers; returns a stop function when it started one. */
export function ensureKafka(): Promise<(() => Promise<void>) | undefined>;
/** Where and what a restartable broker runs. */
export interface BrokerOptions {
  /** Client port; a port of your own needs a controllerPort too. Default: the shared broker's. */
  port?: number;
  controllerPort?: number;
  /** Kafka release, e.g. '3.9.2'. Default: ops/dev/kafka.sh's (KAFKA_VERSION, or 4.4.0). */
  version?: string;
  /** JVM heap options, e.g. '-Xms128m -Xmx256m'. Default: ops/dev/kafka.sh's (-Xms256m -Xmx512m). */
  heap?: string;
}

/** Control of the shared broker (no argument) or of a private one on ports of its own. */
export function restartable(options?: BrokerOptions): KafkaControl;
/** True when a Kafka broker answers an ApiVersions request on host:port. */
export function probeKafka(options?: { host?: string; port?: number; timeoutMs?: number }): Promise<boolean>;
