/**
 * What one worker thread counts while its streams run: frames, acks and
 * commits, latency and send-lag histograms, refusals and closes, overall and
 * for the measurement window. Plain fields, bumped on the hot path; a
 * snapshot of it (`TallySnapshot`, structured-cloneable) goes to the main
 * thread, which adds the threads' snapshots up.
 */
import { LatencyHistogram } from './latency-histogram';

export interface MeasureWindow {
  /** Epoch ms. */
  readonly start: number;
  readonly end: number;
}

export interface TallySnapshot {
  framesSent: number;
  framesResent: number;
  framesAcked: number;
  framesCommitted: number;
  windowFramesSent: number;
  windowFramesAcked: number;
  windowFramesCommitted: number;
  streamsOpen: number;
  streamsStarted: number;
  failedConnections: number;
  resumes: number;
  latencyMissing: number;
  refused: Record<string, number>;
  closes: Record<string, number>;
  ack: Float64Array;
  commit: Float64Array;
  commitOldest: Float64Array;
  lag: Float64Array;
  windowLag: Float64Array;
  windowAck: Float64Array;
  windowCommit: Float64Array;
  windowCommitOldest: Float64Array;
}

export class LoadTally {
  framesSent = 0;
  framesResent = 0;
  framesAcked = 0;
  framesCommitted = 0;
  windowFramesSent = 0;
  windowFramesAcked = 0;
  windowFramesCommitted = 0;
  streamsOpen = 0;
  streamsStarted = 0;
  failedConnections = 0;
  resumes = 0;
  /** Acks and commits whose frame's send time was unknown (--max-rate only: real time falls back to the due time). */
  latencyMissing = 0;
  readonly refused: Record<string, number> = {};
  readonly closes: Record<string, number> = {};
  readonly ack = new LatencyHistogram();
  readonly commit = new LatencyHistogram();
  /** From the first frame a `committed` newly confirms: how long a frame waited to be durable. */
  readonly commitOldest = new LatencyHistogram();
  /** Per tick: when its last frame was written − when the oldest frame it newly sent fell due. */
  readonly lag = new LatencyHistogram();
  readonly windowLag = new LatencyHistogram();
  readonly windowAck = new LatencyHistogram();
  readonly windowCommit = new LatencyHistogram();
  readonly windowCommitOldest = new LatencyHistogram();

  constructor(private readonly window: MeasureWindow) {}

  inWindow(at: number): boolean {
    return at >= this.window.start && at < this.window.end;
  }

  /** A frame written; `first` unless it is a re-send after a resume (re-sends are counted apart). */
  sent(at: number, first: boolean): void {
    if (!first) {
      this.framesResent++;
      return;
    }
    this.framesSent++;
    if (this.inWindow(at)) this.windowFramesSent++;
  }

  /** `frames` newly acked; `latencyMs` when the acked frame's send time is known, null for no sample at all. */
  acked(at: number, frames: number, latencyMs: number | undefined | null): void {
    this.framesAcked += frames;
    const inside = this.inWindow(at);
    if (inside) this.windowFramesAcked += frames;
    if (latencyMs === null) return;
    if (latencyMs === undefined) {
      this.latencyMissing++;
      return;
    }
    this.ack.record(latencyMs);
    if (inside) this.windowAck.record(latencyMs);
  }

  /** `latencyMs` from the newest frame confirmed (seq n of `committed`), `oldestMs` from the oldest newly confirmed. */
  committed(at: number, frames: number, latencyMs: number | undefined, oldestMs: number | undefined): void {
    this.framesCommitted += frames;
    const inside = this.inWindow(at);
    if (inside) this.windowFramesCommitted += frames;
    if (latencyMs === undefined) this.latencyMissing++;
    else {
      this.commit.record(latencyMs);
      if (inside) this.windowCommit.record(latencyMs);
    }
    if (oldestMs !== undefined) {
      this.commitOldest.record(oldestMs);
      if (inside) this.windowCommitOldest.record(oldestMs);
    }
  }

  /** A tick's send lag, `at` the time its last frame was written. */
  sendLag(at: number, lagMs: number): void {
    this.lag.record(lagMs);
    if (this.inWindow(at)) this.windowLag.record(lagMs);
  }

  close(what: string): void {
    this.closes[what] = (this.closes[what] ?? 0) + 1;
  }

  refusal(status: number): void {
    this.refused[status] = (this.refused[status] ?? 0) + 1;
  }

  snapshot(): TallySnapshot {
    return {
      framesSent: this.framesSent,
      framesResent: this.framesResent,
      framesAcked: this.framesAcked,
      framesCommitted: this.framesCommitted,
      windowFramesSent: this.windowFramesSent,
      windowFramesAcked: this.windowFramesAcked,
      windowFramesCommitted: this.windowFramesCommitted,
      streamsOpen: this.streamsOpen,
      streamsStarted: this.streamsStarted,
      failedConnections: this.failedConnections,
      resumes: this.resumes,
      latencyMissing: this.latencyMissing,
      refused: { ...this.refused },
      closes: { ...this.closes },
      ack: new Float64Array(this.ack.counts),
      commit: new Float64Array(this.commit.counts),
      commitOldest: new Float64Array(this.commitOldest.counts),
      lag: new Float64Array(this.lag.counts),
      windowLag: new Float64Array(this.windowLag.counts),
      windowAck: new Float64Array(this.windowAck.counts),
      windowCommit: new Float64Array(this.windowCommit.counts),
      windowCommitOldest: new Float64Array(this.windowCommitOldest.counts),
    };
  }
}
