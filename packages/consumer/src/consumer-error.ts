/**
 * The one error type of @ingest/consumer: a stable `code` to key on and a
 * human message. Codes: `record_invalid` (a record that cannot be read back),
 * `format_unsupported` (audio that cannot be written as WAV, e.g. opus),
 * `format_mismatch` (tracks or records of one call in formats that cannot
 * share a file), `backend_failed` (Redis or Kafka refused a read).
 */
export type ConsumerErrorCode = 'record_invalid' | 'format_unsupported' | 'format_mismatch' | 'backend_failed';

export class ConsumerError extends Error {
  constructor(
    readonly code: ConsumerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConsumerError';
  }
}
