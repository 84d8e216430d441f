/**
 * The audio the chaos clients send: fixed 320-byte frames (20 ms of 8 kHz
 * 16-bit mono) whose content follows from (stream index, seq) alone, so the
 * verifier checks every stored frame byte for byte without keeping what was
 * sent. The content is the load generator's pattern frames
 * (src/client/loadgen/frame-content.ts), so the two check frames one way.
 */
import { PatternFrames } from '../../src/client/loadgen/frame-content';

export const FRAME_BYTES = 320;
export const FRAME_INTERVAL_MS = 20;

const FRAMES = new PatternFrames(FRAME_BYTES);

/** Frame `seq` of stream `streamIndex`. */
export function chaosFrame(streamIndex: number, seq: number): Buffer {
  return FRAMES.frame(streamIndex, seq);
}

/** True when `bytes` (exactly FRAME_BYTES long) is frame `seq` of stream `streamIndex`. */
export function isChaosFrame(bytes: Buffer, streamIndex: number, seq: number): boolean {
  return FRAMES.matches(bytes, streamIndex, seq);
}
