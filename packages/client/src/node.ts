/**
 * @ingest/client for Node.js: everything the browser entry exports, with `ws` (and an
 * `Authorization: Bearer` header) as the default transport of IngestClient.
 */
export * from './index.js';
// An explicit export wins over the same name from `export *`.
export { IngestClient } from './node-client.js';
