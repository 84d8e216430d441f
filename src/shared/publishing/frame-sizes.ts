/**
 * The sizes of the frames in an `audio` record (protocol.md 3), so that a
 * consumer can cut the payload back into frames and deduplicate by frame
 * sequence: `frame_bytes` when every frame has that size, otherwise
 * `frame_sizes`, a comma-separated run-length list (`320x149,160` = 149 frames
 * of 320 bytes, then one of 160).
 */
import { IngestError } from '../errors';

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

/** The fields as a consumer reads them: numbers, or strings from Redis fields and Kafka headers. */
export interface FrameSizeSource {
  readonly frames: number | string;
  readonly frame_bytes?: number | string;
  readonly frame_sizes?: string;
}

const RUN = /^(\d+)(?:x(\d+))?$/;

/** Every frame's size, in order; throws `record_invalid` when the fields contradict `frames`. */
export function frameSizesOf(record: FrameSizeSource): number[] {
  const frames = Number(record.frames);
  if (!Number.isSafeInteger(frames) || frames < 0) throw invalid(`frames "${record.frames}"`);
  let sizes: number[];
  if (record.frame_bytes !== undefined) {
    const bytes = Number(record.frame_bytes);
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw invalid(`frame_bytes "${record.frame_bytes}"`);
    sizes = new Array<number>(frames).fill(bytes);
  } else if (record.frame_sizes !== undefined) {
    sizes = [];
    for (const run of record.frame_sizes.split(',')) {
      const match = RUN.exec(run);
      if (!match) throw invalid(`frame_sizes run "${run}"`);
      const count = match[2] === undefined ? 1 : Number(match[2]);
      if (count < 1 || sizes.length + count > frames) throw invalid(`frame_sizes "${record.frame_sizes}"`);
      for (let i = 0; i < count; i++) sizes.push(Number(match[1]));
    }
  } else {
    throw invalid('neither frame_bytes nor frame_sizes');
  }
  if (sizes.length !== frames) throw invalid(`frame sizes for ${sizes.length} frames, record has ${frames}`);
  return sizes;
}

/** Cuts an audio record's payload back into its frames (views, no copies). */
export function splitFrames(record: FrameSizeSource, payload: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  for (const size of frameSizesOf(record)) {
    out.push(payload.subarray(offset, offset + size));
    offset += size;
  }
  if (offset !== payload.length) throw invalid(`frame sizes add up to ${offset} bytes, payload has ${payload.length}`);
  return out;
}

function invalid(what: string): IngestError {
  return new IngestError('record_invalid', `audio record frame sizes are invalid: ${what}`);
}
