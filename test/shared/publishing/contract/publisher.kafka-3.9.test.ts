/**
 * The Publisher contract for the kafka adapter once more, against the Kafka 3.9
 * line (LEGACY_KAFKA_VERSION in test/support/backends/kafka-broker.js), so that
 * users of clusters older than the 4.x the other tests use stay covered: 4.0
 * removed old protocol versions (KIP-896) and changed the group coordinator.
 * The broker is a private one on free ports, started by the first test and
 * deleted after the last; one that cannot start fails every test here.
 */
import { after, describe, test } from 'node:test';
import { freePorts } from '../../../support/free-port';
import { kafkaBroker } from '../../../support/kafka';
import { kafkaHarness } from './kafka-harness';
import { publisherContract } from './publisher.contract';

const VERSION = kafkaBroker.LEGACY_KAFKA_VERSION;

describe(`kafka publisher against Apache Kafka ${VERSION}`, () => {
  let broker: ReturnType<typeof kafkaBroker.restartable> | undefined;
  let ready: Promise<string[]> | undefined;
  const start = async (): Promise<string[]> => {
    const [port, controllerPort] = await freePorts(2);
    // A small heap: this broker runs next to the shared one and the outage tests' brokers.
    broker = kafkaBroker.restartable({ port, controllerPort, version: VERSION, heap: '-Xms128m -Xmx256m' });
    await broker.start();
    return broker.brokers;
  };
  const brokers = (): Promise<string[]> => (ready ??= start());
  after(() => broker?.reset());

  test(`a private Kafka ${VERSION} broker starts`, async () => {
    await brokers();
  });

  publisherContract(`kafka (Apache Kafka ${VERSION})`, kafkaHarness(brokers), { outage: false });
});
