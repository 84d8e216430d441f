/**
 * The Publisher contract for the kafka adapter, against the real broker that
 * test/run-tests.js starts (Apache Kafka 4.x, see docs/kafka.md); the harness is
 * in kafka-harness.ts. The same suite also runs against the 3.9 line in
 * publisher.kafka-3.9.test.ts. The outage test needs a broker it can stop: it
 * runs against a private broker in test/e2e/kafka-outage.test.ts, so that
 * stopping it never disturbs the shared one other test files use at the same time.
 */
import { SHARED_BROKERS } from '../../../support/kafka';
import { kafkaHarness } from './kafka-harness';
import { publisherContract } from './publisher.contract';

publisherContract(
  'kafka',
  kafkaHarness(async () => SHARED_BROKERS),
  { outage: false },
);
