/** The ingest client for Node.js: the browser build plus `ws`, which can send an Authorization header. */
export * from './index.js';
