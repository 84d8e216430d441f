/**
 * Reading back what an in-process test server published, when its publisher
 * is the in_memory one: the records so far, and waiting for one to come.
 */
import assert from 'node:assert/strict';
import { InMemoryPublisher } from '../../src/shared/publishing/in-memory/in-memory-publisher';
import type { IngestRecord } from '../../src/shared/publishing/records';
import type { TestServer } from './ingest-server';

/** The server's publisher, which these tests need to be the in_memory one. */
export function memoryPublisher(server: TestServer): InMemoryPublisher {
  assert.ok(server.publisher instanceof InMemoryPublisher, 'these tests need the in_memory publisher');
  return server.publisher;
}

/** Resolves with the first record (already published or still to come) matching `predicate`. */
export function waitForRecord<T extends IngestRecord>(
  publisher: InMemoryPublisher,
  predicate: (r: IngestRecord) => r is T,
): Promise<T> {
  return new Promise((resolve) => {
    const found = publisher.records().find(predicate);
    if (found) return resolve(found);
    const off = publisher.onRecord((record) => {
      if (!predicate(record)) return;
      off();
      resolve(record);
    });
  });
}
