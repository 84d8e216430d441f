/** A pino logger whose lines the test reads back: the messages are what operators grep. */
import pino, { type Logger } from 'pino';

export interface LogCapture {
  readonly logger: Logger;
  readonly entries: Array<Record<string, unknown>>;
  /** The entries with this exact message. */
  find(msg: string): Array<Record<string, unknown>>;
}

export function captureLogs(): LogCapture {
  const entries: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void entries.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, entries, find: (msg) => entries.filter((e) => e.msg === msg) };
}
