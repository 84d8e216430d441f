/**
 * Reads an `audio` record's frame sizes (docs/protocol.md 3) and cuts its
 * payload back into frames, so that a consumer can deduplicate by frame
 * sequence: `frame_bytes` when every frame has that size, otherwise
 * `frame_sizes`, a comma-separated run-length list (`320x149,160` = 149 frames
 * of 320 bytes, then one of 160). The service writes these fields with
 * src/shared/publishing/frame-sizes.ts; this is the one reader.
 */
import { ConsumerError } from './consumer-error.js';

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

function invalid(what: string): ConsumerError {
  return new ConsumerError('record_invalid', `audio record frame sizes are invalid: ${what}`);
}
