/**
 * Names no other test, concurrent or earlier, uses: Redis key prefixes, Kafka
 * topics and consumer groups, tenants. Test files run in parallel against the
 * same Redis and Kafka, so a fixed name would mix their records.
 */
import { randomUUID } from 'node:crypto';

/**
 * `ingest-test.<label>.<uuid>`: only characters a Kafka topic allows, and a
 * recognisable prefix for what a crashed run left behind in Redis or Kafka.
 */
export function uniqueName(label: string): string {
  return `ingest-test.${label}.${randomUUID()}`;
}
