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

/** One node of a kafkaCluster (broker and controller in one JVM). */
export interface KafkaClusterNode {
  readonly id: number;
  /** Client (PLAINTEXT) port on 127.0.0.1. */
  readonly port: number;
  readonly controllerPort: number;
  /** The node's own log (stdout and stderr of its JVM). */
  readonly log: string;
  readonly running: boolean;
}

/** A private cluster on free ports, in a temp dir of its own. */
export interface KafkaCluster {
  /** The temp dir holding every node's config, data and log. */
  readonly dir: string;
  /** kafkajs `brokers` list, every node (empty before start()). */
  readonly brokers: string[];
  readonly nodes: KafkaClusterNode[];
  /** Fetches the jars if needed, formats every node with fresh data, starts all; resolves once each answers. */
  start(options?: { timeoutMs?: number }): Promise<void>;
  /** Stops node `id` (1-based): SIGKILL (a crash, default) or SIGTERM (a clean stop); resolves once it exited. */
  stopNode(id: number, signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts a stopped node again on its ports and data; resolves once it answers. */
  startNode(id: number, options?: { timeoutMs?: number }): Promise<void>;
  /** Kills every JVM of the cluster and deletes its dir. Idempotent. */
  close(): Promise<void>;
}

export interface ClusterOptions {
  /** How many nodes (default 3); every one is a voter of the controller quorum. */
  nodes?: number;
  /** Kafka release (default: KAFKA_VERSION, or 4.4.0). */
  version?: string;
  /** JVM heap options per node (default '-Xms128m -Xmx256m'). */
  heap?: string;
  /** server.properties entries added to (or replacing) the defaults on every node. */
  brokerConfig?: Record<string, string | number | boolean>;
}

/** A private multi-node KRaft cluster from the same jars; register close() with t.after before start(). */
export function kafkaCluster(options?: ClusterOptions): KafkaCluster;
