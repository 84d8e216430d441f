/**
 * One pino root logger per process: JSON lines on stdout, with the role and
 * worker id on every line. Tokens are redacted wherever they could appear
 * (headers, URLs are redacted by the caller before logging).
 */
import pino, { type Logger, type DestinationStream } from 'pino';
import { SENSITIVE_KEYS } from '../config/config-schema';

/** Fields that hold a credential wherever they appear: the request's, and every secret setting of the schema. */
const SECRET_FIELDS = [
  'token',
  'authorization',
  'headers.authorization',
  'headers["sec-websocket-protocol"]',
  // The same for every call to TWILIO_PUBLIC_URL: whoever reads it can open Twilio streams.
  'headers["x-twilio-signature"]',
  'password',
  'secret',
  ...SENSITIVE_KEYS,
];

export const REDACT_PATHS = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]);

export interface LoggerOptions {
  readonly level: string;
  readonly role: 'primary' | 'worker' | 'tool';
  readonly workerId?: number;
  /** Tests pass a stream to read what was logged. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const base: Record<string, unknown> = { service: 'ingest', role: options.role, pid: process.pid };
  if (options.workerId !== undefined) base.worker_id = options.workerId;
  return pino(
    {
      level: options.level,
      base,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

export type { Logger };
