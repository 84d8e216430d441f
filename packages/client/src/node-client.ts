/** The IngestClient of the Node entry: `ws` with an Authorization header unless a WebSocket is injected. */
import { IngestClient as BrowserIngestClient } from './ingest-client.js';
import type { IngestClientOptions } from './client-options.js';
import { wsTransport } from './ws-transport.js';

export class IngestClient extends BrowserIngestClient {
  constructor(options: IngestClientOptions) {
    super(options, options.WebSocket ? undefined : wsTransport());
  }
}
