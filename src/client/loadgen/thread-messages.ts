/**
 * The messages between the load generator's main thread and its worker
 * threads (one plan in, progress and a final tally out), and what a thread
 * needs to know to play its share of the streams.
 */
import type { MediaFormat, StreamResult } from './load-stream';
import type { MeasureWindow, TallySnapshot } from './load-tally';
import type { Dialect } from './loadgen-options';
import type { CredentialOptions } from './stream-credentials';

export interface ThreadPlan {
  readonly url: string;
  readonly dialect: Dialect;
  readonly streams: number;
  /** The global indices of this thread's streams. */
  readonly indices: readonly number[];
  readonly interactionPrefix: string;
  readonly rampMs: number;
  readonly frameMs: number;
  readonly frameBytes: number;
  /** This run's nonce in every pattern frame: an earlier run's frames under the same ids are told apart. */
  readonly nonce: number;
  readonly media: MediaFormat;
  /** The WAV's audio to loop, when --wav was given. */
  readonly loopAudio?: Uint8Array;
  readonly maxRate: boolean;
  readonly windowFrames: number;
  readonly idle: boolean;
  readonly insecure: boolean;
  /** How long streams get to finish after `stop` before they are given up. */
  readonly finishTimeoutMs: number;
  readonly progressEveryMs: number;
  /** Idle streams send a keepalive this often (--keepalive-seconds). */
  readonly keepaliveMs: number;
  /** Streams keep trying to get through until the window's end plus this. */
  readonly retryGraceMs: number;
  /** The dialect and URL are the plan's own. */
  readonly credentials: Omit<CredentialOptions, 'dialect' | 'url'>;
}

/** Main → thread. `go`: the schedule's origin (epoch ms) and the measurement window; `stop`: end the traffic now. */
export type ToThread =
  { readonly type: 'go'; readonly t0: number; readonly window: MeasureWindow } | { readonly type: 'stop' };

/** Thread → main. */
export type FromThread =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly tally: TallySnapshot }
  | { readonly type: 'final'; readonly tally: TallySnapshot; readonly streams: StreamResult[] };

export function interactionIdOf(prefix: string, index: number): string {
  return `${prefix}-${index}`;
}
