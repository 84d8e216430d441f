/**
 * The one error catalogue. Every error the service raises or reports has a stable
 * code (clients and operators key on it), a human message, and for client-facing
 * errors the HTTP status (refused upgrade) or WebSocket close code it maps to.
 * docs/errors.md lists the same codes; test/shared/errors.test.ts keeps them in step.
 */

export interface ErrorSpec {
  /** HTTP status for errors raised before the WebSocket upgrade. */
  readonly status?: number;
  /** WebSocket close code for errors raised on an open stream. */
  readonly closeCode?: number;
  /** One line for docs/errors.md. */
  readonly doc: string;
}

export const ERRORS = {
  // Upgrade refusals (protocol.md 1.1)
  missing_token: {
    status: 401,
    doc: 'No bearer token in the Authorization header, access_token query parameter or bearer.<jwt> subprotocol.',
  },
  invalid_token: {
    status: 401,
    doc:
      'The token is malformed, badly signed, expired, not yet valid, uses a ' +
      'refused algorithm, or has the wrong issuer or audience.',
  },
  missing_tenant: { status: 401, doc: 'The token carries no tenant claim (JWT_TENANT_CLAIM).' },
  tenant_not_allowed: { status: 403, doc: 'The token is valid but its tenant is not in ALLOWED_TENANTS.' },
  not_found: {
    status: 404,
    doc:
      'Unknown path: streams are accepted on /v1/ingest, and on ' +
      '/v1/exotel and /v1/twilio when those sources are enabled.',
  },
  exotel_unauthorized: {
    status: 401,
    doc:
      'An Exotel connection whose Basic credentials are not in EXOTEL_BASIC_AUTH, ' +
      'or that has none and comes from outside EXOTEL_ALLOWED_CIDRS.',
  },
  twilio_signature_invalid: {
    status: 401,
    doc:
      'A /v1/twilio upgrade without X-Twilio-Signature, ' +
      'or with one that is not the signature of TWILIO_PUBLIC_URL ' +
      'under TWILIO_AUTH_TOKEN.',
  },
  connection_limit: { status: 429, doc: 'A connection limit was hit (per worker, per tenant or per source address).' },
  tenant_stream_limit: {
    status: 429,
    closeCode: 1013,
    doc:
      'The tenant holds MAX_STREAMS_PER_TENANT open streams across the fleet (or the instance, without a ' +
      'Redis for the limits); retry after Retry-After seconds. A telephony stream whose tenant comes from ' +
      '`start` is closed with 1013 instead.',
  },
  jwks_unavailable: {
    status: 503,
    doc: "The token's kid names a key this worker lacks and JWT_JWKS_URL could not be fetched; retry later.",
  },
  not_ready: { status: 503, doc: 'The service is starting or draining; retry after Retry-After seconds.' },
  worker_backlog_full: {
    status: 503,
    doc:
      "The worker's unpublished backlog (live and closed streams) is at MAX_WORKER_BACKLOG_BYTES, as during a " +
      'backend outage; retry after Retry-After seconds.',
  },

  // Stream errors (protocol.md 1.2-1.4)
  invalid_message: { closeCode: 1008, doc: 'A text message that is not valid JSON or not a known message type.' },
  invalid_start: { closeCode: 1008, doc: 'The start message is missing a field or has a value out of range.' },
  frame_before_start: { closeCode: 1008, doc: 'A binary frame arrived before the start message.' },
  seq_exhausted: {
    closeCode: 1008,
    doc: 'A frame would be numbered past 2^53 - 1 (Number.MAX_SAFE_INTEGER); resume under a new interaction.',
  },
  duplicate_start: { closeCode: 1008, doc: 'A second start message on a stream that has started.' },
  tenant_mismatch: { closeCode: 1008, doc: "The start message names a tenant_id other than the token's tenant." },
  interaction_mismatch: {
    closeCode: 1008,
    doc: "The start message names an interaction_id other than the token's interaction_id claim.",
  },
  start_timeout: { closeCode: 1008, doc: 'No start message within START_TIMEOUT_MS.' },
  tenant_unmapped: {
    closeCode: 1008,
    doc:
      'A telephony stream with no tenant: no Basic user tenant, its account_sid is not in ' +
      'EXOTEL_ACCOUNT_TENANTS or TWILIO_ACCOUNT_TENANTS, and no EXOTEL_DEFAULT_TENANT applies.',
  },
  send_buffer_full: {
    closeCode: 1008,
    doc:
      "The client does not read its replies: the socket's unsent data passed MAX_SEND_BUFFER_BYTES. " +
      'Sent as the close reason only (an error message would join the unread queue).',
  },
  frame_too_large: { closeCode: 1009, doc: 'A frame larger than MAX_FRAME_BYTES.' },
  backend_rejected: {
    closeCode: 1011,
    doc: 'The pub/sub backend refused a record for good (not a transient failure).',
  },
  backlog_full: {
    closeCode: 1013,
    doc:
      "The stream's unpublished backlog stayed at MAX_STREAM_BACKLOG_BYTES, or the worker's at " +
      'MAX_WORKER_BACKLOG_BYTES, longer than BACKPRESSURE_TIMEOUT_MS.',
  },
  internal_error: {
    closeCode: 1011,
    doc: 'The server failed to handle a message (a bug, logged); the stream is flushed and closed.',
  },
  server_draining: {
    closeCode: 1001,
    doc: 'The server is shutting down; reconnect and resume from the last committed seq + 1.',
  },

  // Internal and operational errors
  config_invalid: {
    doc: 'The configuration failed validation; every problem is listed at once and the process exits with status 78.',
  },
  port_in_use: { doc: 'PORT (or METRICS_PORT) is already taken by another process.' },
  record_invalid: {
    doc: 'A record without tenant_id or interaction_id reached the publisher: a bug, counted and never published.',
  },
  publisher_closed: { doc: 'publish() was called after close().' },
  publish_failed: { doc: 'A publish attempt failed; transient failures are retried with backoff.' },
  backend_unavailable: { doc: 'The pub/sub backend could not be reached at start-up.' },
  topic_missing: { doc: 'KAFKA_TOPIC does not exist and KAFKA_CREATE_TOPIC is false: start-up fails (exit 78).' },
  invalid_payload: {
    doc:
      'A telephony media payload that is not canonical base64 of whole samples: counted in ' +
      "ingest_invalid_payloads_total, logged with the stream's ids, skipped.",
  },
  jwks_fetch_failed: {
    doc:
      'Fetching the key set at JWT_JWKS_URL failed (unreachable, timeout, HTTP error, not a key set): ' +
      'logged and counted; the cached keys keep verifying tokens.',
  },
  tenant_leases_unavailable: {
    doc:
      'The store of the MAX_STREAMS_PER_TENANT leases (Redis, or the primary) did not answer in time: streams ' +
      'are admitted without a lease (fail open), counted in ingest_tenant_lease_errors_total, logged once ' +
      'per outage.',
  },
  tenant_leases_rejected: {
    doc:
      'The store of the MAX_STREAMS_PER_TENANT leases answered a call with an error (a key of the wrong type, a ' +
      'script error, permissions): streams are admitted without a lease, counted in ' +
      'ingest_tenant_lease_errors_total, logged as an error at most once a minute until it is fixed.',
  },
  worker_startup_failed: { doc: 'A worker failed before it could serve; the reason is reported to the primary.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class IngestError extends Error {
  readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly closeCode: number | undefined;
  /**
   * For the logs only, never sent to a client: what the message leaves out because it
   * would tell an attacker something (the expected issuer, an internal address).
   */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options);
    this.name = 'IngestError';
    this.code = code;
    this.detail = options?.detail;
    const spec: ErrorSpec = ERRORS[code];
    this.status = spec.status;
    this.closeCode = spec.closeCode;
  }
}

/** A publish failure; `retryable` says whether trying again may succeed. */
export class PublishError extends IngestError {
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(retryable ? 'publish_failed' : 'backend_rejected', message, options);
    this.name = 'PublishError';
    this.retryable = retryable;
  }
}

export function isIngestError(err: unknown): err is IngestError {
  return err instanceof IngestError;
}

/** The message of anything thrown, for a log line or a problem report. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
