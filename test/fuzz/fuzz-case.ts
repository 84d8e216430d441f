/**
 * What a fuzz case is: the messages a client sends on one connection, and the
 * ends the contract allows for them. A generator builds cases; a runner plays
 * them and returns what happened; the test compares the two.
 */

/** One WebSocket message as the client sends it. */
export interface WireMessage {
  readonly data: string | Buffer;
  readonly binary: boolean;
}

export type Dialect = 'native' | 'exotel' | 'twilio';

/**
 * The closes the contract allows for a case. `errorCode`, when set, is the
 * `error` message the native server must send first (protocol.md, Project
 * decisions: 1008/1009 raised by the session).
 */
export interface ExpectedEnd {
  readonly codes: readonly number[];
  readonly errorCode?: string;
}

export interface MessageCase {
  readonly kind: 'messages';
  readonly dialect: Dialect;
  /** What the generator did, for the failure message. */
  readonly label: string;
  /** Path and query to connect to; default: the dialect's endpoint. */
  readonly path?: string;
  readonly messages: readonly WireMessage[];
  /**
   * After the messages: 'stop' sends a valid stop (native) when the stream is
   * still open, 'close' closes with 1000 (telephony), 'wait' waits for the
   * server to close.
   */
  readonly then: 'stop' | 'close' | 'wait';
  readonly expect: ExpectedEnd;
}

/** What a runner observed. */
export interface CaseOutcome {
  readonly code: number;
  readonly reason: string;
  /** The `error` message's code, when the server sent one. */
  readonly errorCode?: string;
}

export function text(value: unknown): WireMessage {
  return { data: typeof value === 'string' ? value : JSON.stringify(value), binary: false };
}

export function binary(data: Buffer): WireMessage {
  return { data, binary: true };
}

/** Whether `outcome` is one of the ends `expect` allows. */
export function endAllowed(expect: ExpectedEnd, outcome: CaseOutcome): boolean {
  if (!expect.codes.includes(outcome.code)) return false;
  return expect.errorCode === undefined || expect.errorCode === outcome.errorCode;
}
