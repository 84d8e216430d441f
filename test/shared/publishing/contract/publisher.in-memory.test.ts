/**
 * The Publisher contract for the in_memory adapter: records are read back from
 * the publisher itself, normalised the way a consumer of a real backend sees
 * them (attributes as strings, payload as bytes).
 */
import { InMemoryPublisher } from '../../../../src/shared/publishing/in-memory/in-memory-publisher';
import { recordAttributes, type IngestRecord } from '../../../../src/shared/publishing/records';
import { publisherContract, type ReadRecord } from './publisher.contract';

function normalise(record: IngestRecord): ReadRecord {
  return {
    type: record.type,
    fields: Object.fromEntries(recordAttributes(record)),
    payload: record.type === 'audio' ? record.payload : undefined,
  };
}

publisherContract('in_memory', async () => {
  const publisher = new InMemoryPublisher();
  return {
    publisher,
    async readBack(tenantId) {
      return publisher
        .records()
        .filter((r) => r.tenant_id === tenantId)
        .map(normalise);
    },
    async breakBackend() {
      publisher.setFailing(true);
    },
    async restoreBackend() {
      publisher.setFailing(false);
    },
  };
});
