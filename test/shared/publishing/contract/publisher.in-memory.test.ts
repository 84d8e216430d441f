/**
 * The Publisher contract for the in_memory adapter: records are read back from
 * the publisher itself, laid out the way a consumer of a real backend sees
 * them (attributes as strings, payload as bytes).
 */
import { InMemoryPublisher } from '../../../../src/shared/publishing/in-memory/in-memory-publisher';
import { recordFields } from '../../../support/field-map';
import { publisherContract, readRecord } from './publisher.contract';

publisherContract('in_memory', async () => {
  const publisher = new InMemoryPublisher();
  return {
    publisher,
    async readBack(tenantId) {
      return publisher
        .records()
        .filter((r) => r.tenant_id === tenantId)
        .map((r) => readRecord(recordFields(r)));
    },
    async breakBackend() {
      publisher.setFailing(true);
    },
    async restoreBackend() {
      publisher.setFailing(false);
    },
  };
});
