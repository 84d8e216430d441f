/**
 * `--verify`'s arithmetic: stored audio records, in the backend's order, are
 * cut back into frames (`frame_bytes`/`frame_sizes`, packages/consumer/src/
 * frame-sizes.ts) and each frame compared byte for byte with what its (stream,
 * seq) must contain. Per interaction, frames are deduplicated by seq, never by
 * record, as docs/protocol.md "Deduplicating by frame sequence" says: the first
 * copy of a seq is found, another copy is duplicated, bytes that are not that
 * frame are corrupt, and a first copy that comes after a higher seq of its
 * interaction is out of order (a consumer that deduplicates would skip it).
 * Frames of this run's interactions that another run wrote (another nonce, or
 * stored before this run began: a reused --interaction-prefix) are foreign,
 * never found. Missing = sent but never found; of those, the ones confirmed
 * committed are the loss.
 */
import { splitFrames } from '../../../packages/consumer/src/frame-sizes';
import type { FrameSource } from './frame-content';
import type { PartitionTally } from './partition-spread';

/** A stored record: each attribute's bytes by name, and `payload` for audio. */
export type RecordFields = ReadonlyMap<string, Buffer>;

export interface VerifyExpectation {
  readonly interactionId: string;
  readonly index: number;
  /** Frames 1..sent were written. */
  readonly sent: number;
  /** Highest seq confirmed committed; null where the dialect confirms nothing (telephony). */
  readonly committed: number | null;
}

export interface VerifySummary {
  readonly records: number;
  readonly frames_found: number;
  readonly missing: number;
  /** Missing frames that had been confirmed committed (native): the loss. */
  readonly missing_committed: number;
  readonly duplicated: number;
  readonly out_of_order: number;
  readonly corrupt: number;
  /** Frames of this run's interactions written by another run (its nonce, or stored before this run began). */
  readonly foreign: number;
  /** Records of this run's interactions that were stored before it began. */
  readonly records_before_run: number;
  /** Audio records of this run that could not be read (bad seqs or sizes). */
  readonly unreadable: number;
  /** Kafka only: this run's records and interactions by partition of the topic (partition-spread.ts). */
  readonly partitions?: readonly PartitionTally[];
}

interface Entry {
  readonly expect: VerifyExpectation;
  readonly seen: Uint8Array;
  highest: number;
}

export class FrameVerifier {
  private readonly byId = new Map<string, Entry>();
  private records = 0;
  private found = 0;
  private duplicated = 0;
  private outOfOrder = 0;
  private corrupt = 0;
  private foreign = 0;
  private recordsBeforeRun = 0;
  private unreadable = 0;
  private expected = 0;

  constructor(
    expectations: readonly VerifyExpectation[],
    private readonly frames: FrameSource,
  ) {
    for (const expect of expectations) {
      this.byId.set(expect.interactionId, { expect, seen: new Uint8Array(expect.sent + 1), highest: 0 });
      this.expected += expect.sent;
    }
  }

  /** True once every frame sent has been found. */
  get complete(): boolean {
    return this.found >= this.expected;
  }

  /**
   * One stored record, in backend order; records of other interactions are
   * ignored. `beforeRun`: the backend held it before this run began, so its
   * frames are foreign whatever their bytes. True when it counts as one of
   * this run's `records`.
   */
  add(record: RecordFields, beforeRun = false): boolean {
    const entry = this.byId.get(record.get('interaction_id')?.toString() ?? '');
    if (!entry) return false;
    if (beforeRun) this.recordsBeforeRun++;
    else this.records++;
    if (record.get('type')?.toString() === 'audio') this.addAudio(record, entry, beforeRun);
    return !beforeRun;
  }

  private addAudio(record: RecordFields, entry: Entry, beforeRun: boolean): void {
    const start = Number(record.get('seq_start')?.toString());
    const end = Number(record.get('seq_end')?.toString());
    const payload = record.get('payload');
    let parts: Buffer[];
    try {
      if (!payload || !Number.isInteger(start) || !Number.isInteger(end) || start < 1 || end < start)
        throw new Error('bad seqs');
      parts = splitFrames(
        {
          frames: record.get('frames')?.toString() ?? String(end - start + 1),
          frame_bytes: record.get('frame_bytes')?.toString(),
          frame_sizes: record.get('frame_sizes')?.toString(),
        },
        payload,
      );
      if (parts.length !== end - start + 1) throw new Error('frame count');
    } catch {
      this.unreadable++;
      return;
    }
    if (beforeRun) {
      this.foreign += parts.length;
      return;
    }
    for (let seq = start; seq <= end; seq++) {
      const verdict = this.frames.classify(parts[seq - start], entry.expect.index, seq);
      if (verdict === 'foreign') {
        this.foreign++;
        continue;
      }
      if (seq >= entry.seen.length || verdict === 'corrupt') {
        this.corrupt++;
        continue;
      }
      if (entry.seen[seq]) {
        this.duplicated++;
        continue;
      }
      entry.seen[seq] = 1;
      this.found++;
      if (seq < entry.highest) this.outOfOrder++;
      else entry.highest = seq;
    }
  }

  summary(): VerifySummary {
    let missing = 0;
    let missingCommitted = 0;
    for (const { expect, seen } of this.byId.values()) {
      for (let seq = 1; seq <= expect.sent; seq++) {
        if (seen[seq]) continue;
        missing++;
        if (expect.committed !== null && seq <= expect.committed) missingCommitted++;
      }
    }
    return {
      records: this.records,
      frames_found: this.found,
      missing,
      missing_committed: missingCommitted,
      duplicated: this.duplicated,
      out_of_order: this.outOfOrder,
      corrupt: this.corrupt,
      foreign: this.foreign,
      records_before_run: this.recordsBeforeRun,
      unreadable: this.unreadable,
    };
  }
}
