/** A pino logger whose lines the test reads back: the messages are what operators grep. */
import pino, { type DestinationStream, type Logger } from 'pino';

export interface LogCapture {
  readonly logger: Logger;
  readonly entries: Array<Record<string, unknown>>;
  /** The entries with this exact message. */
  find(msg: string): Array<Record<string, unknown>>;
}

/** `make` builds the logger on the capturing destination: a bare pino one by default, or the service's own. */
export function captureLogs(
  make: (destination: DestinationStream) => Logger = (destination) => pino({ level: 'debug' }, destination),
): LogCapture {
  const entries: Array<Record<string, unknown>> = [];
  const logger = make({ write: (line: string) => void entries.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, entries, find: (msg) => entries.filter((e) => e.msg === msg) };
}
