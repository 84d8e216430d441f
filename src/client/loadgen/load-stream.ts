/**
 * The seam between a worker thread's ticker and one stream of the load, and
 * what every dialect's stream shares: the settings, the result it reports, the
 * send-time ring from which ack and commit latency are measured.
 */
import type { FrameSource } from './frame-content';
import type { LoadTally } from './load-tally';
import type { StreamCredentials } from './stream-credentials';

export interface MediaFormat {
  readonly encoding: string;
  readonly sample_rate: number;
  readonly channels: number;
}

export interface StreamSettings {
  readonly url: string;
  readonly frames: FrameSource;
  readonly media: MediaFormat;
  readonly frameMs: number;
  /** No clock: send while fewer than windowFrames are unacked. */
  readonly maxRate: boolean;
  readonly windowFrames: number;
  readonly credentials: StreamCredentials;
  readonly tally: LoadTally;
  /** Epoch ms, high resolution. */
  readonly clock: () => number;
  readonly insecure: boolean;
  /** Epoch ms after which a stream that cannot get through stops trying (the run's end plus a grace). */
  readonly retryUntil: number;
}

/** How a stream ended (`outcome`): done, failed: <why>, gave_up (still running at the deadline), never_started. */
export interface StreamResult {
  readonly interaction_id: string;
  readonly index: number;
  /** Distinct frames written (seq 1..sent). */
  readonly sent: number;
  /** Frame writes, re-sends after resumes included. */
  readonly written: number;
  /** Highest seq acked / committed; null where the dialect has none (telephony). */
  readonly acked: number | null;
  readonly committed: number | null;
  readonly closes: Record<string, number>;
  readonly connections: number;
  readonly outcome: string;
}

export interface LoadStream {
  readonly index: number;
  readonly interactionId: string;
  readonly finished: boolean;
  /**
   * Frames up to `seq` are due by the clock. Returns the oldest seq that this
   * call made due and wrote (all of them up to `seq` written), else 0: the
   * ticker measures its send lag from that frame's due time.
   */
  advance(seq: number): number;
  /** Sends a keepalive if the stream is open and its dialect has one. */
  keepalive(): void;
  /** No more frames: send what is due, then end the stream. */
  stop(): void;
  /** Stops trying (the end of the run's patience). */
  giveUp(): void;
  whenFinished(): Promise<void>;
  result(): StreamResult;
}

/** Send times of the last RING_FRAMES frames: enough for 20 s of 20 ms frames. */
const RING_FRAMES = 1024;

/**
 * When each recent frame was written, allocated at the first frame (an idle
 * stream costs nothing). A seq that has left the ring (a long outage, or a
 * large --max-rate window) is measured from its due time in real time, and
 * counted as a missing sample at --max-rate.
 */
export class SendTimes {
  private times: Float64Array | undefined;
  private seqs: Float64Array | undefined;

  record(seq: number, at: number): void {
    this.times ??= new Float64Array(RING_FRAMES);
    this.seqs ??= new Float64Array(RING_FRAMES);
    const slot = seq % RING_FRAMES;
    this.times[slot] = at;
    this.seqs[slot] = seq;
  }

  /** When `seq` was last written, if still known. */
  at(seq: number): number | undefined {
    const slot = seq % RING_FRAMES;
    return this.seqs?.[slot] === seq ? this.times![slot] : undefined;
  }
}

export function bump(counts: Record<string, number>, what: string): void {
  counts[what] = (counts[what] ?? 0) + 1;
}
