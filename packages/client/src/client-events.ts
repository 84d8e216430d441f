/** The events an IngestClient emits, each a plain object with a `type`. */
import type { IngestClientError } from './errors.js';

export interface StartedEvent {
  readonly type: 'started';
  readonly streamId: string;
  readonly nextSeq: number;
  /** True on every connection after the first (a resume). */
  readonly resumed: boolean;
}

export interface AckEvent {
  readonly type: 'ack';
  readonly seq: number;
}

export interface CommittedEvent {
  readonly type: 'committed';
  readonly seq: number;
}

export interface ReconnectingEvent {
  readonly type: 'reconnecting';
  /** 1-based attempt within this outage. */
  readonly attempt: number;
  readonly delayMs: number;
  /** The close code that ended the last connection (1006 for a failed attempt), or the refused upgrade's status. */
  readonly code: number;
  readonly reason: string;
}

export interface ReconnectedEvent {
  readonly type: 'reconnected';
  readonly attempt: number;
  readonly nextSeq: number;
  /** Frames sent again on the new connection (they were sent before but not committed). */
  readonly resent: number;
}

export interface ClosedEvent {
  readonly type: 'closed';
  readonly code: number;
  readonly reason: string;
  /** Set unless the stream ended as asked (`stop()` answered). */
  readonly error?: IngestClientError;
}

export type IngestClientEvent =
  StartedEvent | AckEvent | CommittedEvent | ReconnectingEvent | ReconnectedEvent | ClosedEvent;

export type IngestClientEventType = IngestClientEvent['type'];

/** The event of one type: `EventOf<'ack'>` is `AckEvent`. */
export type EventOf<T extends IngestClientEventType> = Extract<IngestClientEvent, { type: T }>;

export type Listener<T extends IngestClientEventType> = (event: EventOf<T>) => void;
