/**
 * @ingest/client, browser-safe entry: streams call audio frames to the ingest service,
 * keeps every frame until it is committed, and resumes after a drop. Uses the runtime's
 * standard WebSocket (token as the `bearer.<jwt>` subprotocol) unless one is injected.
 */
export { IngestClient } from './ingest-client.js';
export type { ClientStats, FrameData, StartResult, StopResult } from './ingest-client.js';
export { IngestClientError } from './errors.js';
export type { IngestClientErrorCode, IngestClientErrorDetails } from './errors.js';
export type {
  AckEvent,
  ClosedEvent,
  CommittedEvent,
  EventOf,
  IngestClientEvent,
  IngestClientEventType,
  Listener,
  ReconnectedEvent,
  ReconnectingEvent,
  StartedEvent,
} from './client-events.js';
export type { IngestClientOptions, MediaOptions, TokenSource } from './client-options.js';
export type { BackoffOptions } from './backoff-policy.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket-transport.js';
export { PROTOCOL } from './transport.js';
