/**
 * A logger for one stream or connection: the root logger with fields of its
 * own (tenant_id, client, interaction_id, stream_id…) added to each line it
 * writes. Unlike a pino child, it costs one small object per stream: a pino
 * child is a new object whose prototype is its parent (so every stream adds
 * hidden classes of its own to the heap) with its fields kept as a JSON
 * string, and thousands of idle streams each held two. A stream logs a few
 * lines in its life, so merging its fields into each line costs nothing that
 * counts. Lines read as a child's would: the same fields, in the same order.
 */
import type { Level, Logger } from 'pino';

export type LogBindings = Readonly<Record<string, unknown>>;

/** What a stream's code logs with: a pino Logger is one too. */
export interface Log {
  child(bindings: LogBindings): Log;
  debug(obj: object, msg?: string): void;
  debug(msg: string): void;
  info(obj: object, msg?: string): void;
  info(msg: string): void;
  warn(obj: object, msg?: string): void;
  warn(msg: string): void;
  error(obj: object, msg?: string): void;
  error(msg: string): void;
}

export class BoundLog implements Log {
  constructor(
    private readonly root: Logger,
    private readonly bindings: LogBindings,
  ) {}

  /** The same root with more fields; a later field of the same name replaces an earlier one. */
  child(bindings: LogBindings): BoundLog {
    return new BoundLog(this.root, { ...this.bindings, ...bindings });
  }

  debug(objOrMsg: object | string, msg?: string): void {
    this.write('debug', objOrMsg, msg);
  }

  info(objOrMsg: object | string, msg?: string): void {
    this.write('info', objOrMsg, msg);
  }

  warn(objOrMsg: object | string, msg?: string): void {
    this.write('warn', objOrMsg, msg);
  }

  error(objOrMsg: object | string, msg?: string): void {
    this.write('error', objOrMsg, msg);
  }

  private write(level: Level, objOrMsg: object | string, msg: string | undefined): void {
    const root = this.root;
    if (!root.isLevelEnabled(level)) return;
    if (typeof objOrMsg === 'string') root[level](this.bindings, objOrMsg);
    else root[level]({ ...this.bindings, ...objOrMsg }, msg);
  }
}
