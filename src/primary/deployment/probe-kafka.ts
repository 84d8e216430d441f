/**
 * validate:deployment's Kafka check: with PUBSUB_ADAPTER=kafka, KAFKA_BROKERS
 * must answer a metadata request within BACKEND_CONNECT_TIMEOUT_MS, over the
 * connection the workers make (TLS, SASL), and KAFKA_TOPIC must exist unless
 * KAFKA_CREATE_TOPIC lets the service create it (else it exits 78 at start).
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Config } from '../../shared/config/config-schema';
import { errorMessage } from '../../shared/errors';
import { kafkaConnection } from '../../shared/publishing/kafka/kafka-publisher';
import { configuredOr, runProbe, within, type Verdict } from './verdict';

async function probeKafka(config: Readonly<Config>): Promise<Verdict> {
  const brokers = config.kafkaBrokers.join(',');
  const timeoutMs = config.backendConnectTimeoutMs;
  const admin = new Kafka({
    ...kafkaConnection(config),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 }, // one attempt: the verdict is about now
  }).admin();
  let topics: string[];
  try {
    topics = await within(
      admin.connect().then(() => admin.listTopics()),
      timeoutMs,
      'a metadata request',
    );
  } catch (err) {
    return {
      level: 'red',
      message:
        `KAFKA_BROKERS ${brokers} did not answer a metadata request within BACKEND_CONNECT_TIMEOUT_MS ` +
        `(${timeoutMs} ms): ${errorMessage(err)}; start the brokers or correct KAFKA_BROKERS, KAFKA_SSL, ` +
        'KAFKA_SASL_* (or the firewall)',
    };
  } finally {
    await admin.disconnect().catch(() => {});
  }
  const answered = `KAFKA_BROKERS ${brokers} answered a metadata request`;
  if (topics.includes(config.kafkaTopic)) {
    return { level: 'green', message: `${answered}; topic ${config.kafkaTopic} exists` };
  }
  if (config.kafkaCreateTopic) {
    return { level: 'green', message: `${answered}; topic ${config.kafkaTopic} will be created at start` };
  }
  return {
    level: 'red',
    message:
      `${answered}, but topic ${config.kafkaTopic} does not exist and the service would exit 78: create it ` +
      '(docs/kafka.md) or set KAFKA_CREATE_TOPIC=true',
  };
}

runProbe(() =>
  configuredOr((config) =>
    config.pubsubAdapter === 'kafka'
      ? probeKafka(config)
      : { level: 'skip', message: `not used (PUBSUB_ADAPTER=${config.pubsubAdapter})` },
  ),
);
