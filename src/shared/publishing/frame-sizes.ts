/**
 * The sizes of the frames in an `audio` record (protocol.md 3), so that a
 * consumer can cut the payload back into frames and deduplicate by frame
 * sequence: `frame_bytes` when every frame has that size, otherwise
 * `frame_sizes`, a comma-separated run-length list (`320x149,160` = 149 frames
 * of 320 bytes, then one of 160). This is the writing side; the one reader is
 * packages/consumer/src/frame-sizes.ts (@ingest/consumer), which consumers import.
 */

/** Exactly one of the two fields, as an audio record carries it. */
export type FrameSizeField = { readonly frame_bytes: number } | { readonly frame_sizes: string };

/**
 * Run-length counts of frame sizes, built one frame at a time on the hot path:
 * a comparison and an increment per frame, a new run only when the size changes.
 */
export class FrameSizeRuns {
  private sizes: number[] = [];
  private counts: number[] = [];

  add(bytes: number): void {
    const last = this.sizes.length - 1;
    if (last >= 0 && this.sizes[last] === bytes) this.counts[last]++;
    else {
      this.sizes.push(bytes);
      this.counts.push(1);
    }
  }

  /** The record's field for the runs so far, and empties them. */
  take(): FrameSizeField {
    const { sizes, counts } = this;
    this.sizes = [];
    this.counts = [];
    if (sizes.length === 1) return { frame_bytes: sizes[0] };
    return { frame_sizes: sizes.map((size, i) => (counts[i] === 1 ? `${size}` : `${size}x${counts[i]}`)).join(',') };
  }
}
