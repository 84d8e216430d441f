/**
 * The audio the chaos clients send: fixed 320-byte frames (20 ms of 8 kHz
 * 16-bit mono) whose content follows from (stream index, seq) alone, so the
 * verifier checks every stored frame byte for byte without keeping what was
 * sent. Each frame is its stream index and seq, then a slice of a fixed
 * pseudo-random pattern at an offset that depends on both.
 */
export const FRAME_BYTES = 320;
export const FRAME_INTERVAL_MS = 20;

const HEADER_BYTES = 8;
const BODY_BYTES = FRAME_BYTES - HEADER_BYTES;
const PATTERN_BYTES = 65_536;

const PATTERN = ((): Buffer => {
  const pattern = Buffer.alloc(PATTERN_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < PATTERN_BYTES; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pattern[i] = x & 0xff;
  }
  return pattern;
})();

function bodyOffset(streamIndex: number, seq: number): number {
  return (streamIndex * 7919 + seq * 104_729) % (PATTERN_BYTES - BODY_BYTES);
}

/** Frame `seq` of stream `streamIndex`. */
export function chaosFrame(streamIndex: number, seq: number): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_BYTES);
  frame.writeUInt32LE(streamIndex, 0);
  frame.writeUInt32LE(seq, 4);
  const offset = bodyOffset(streamIndex, seq);
  PATTERN.copy(frame, HEADER_BYTES, offset, offset + BODY_BYTES);
  return frame;
}

/** True when `bytes` (exactly FRAME_BYTES long) is frame `seq` of stream `streamIndex`. */
export function isChaosFrame(bytes: Buffer, streamIndex: number, seq: number): boolean {
  if (bytes.length !== FRAME_BYTES) return false;
  if (bytes.readUInt32LE(0) !== streamIndex || bytes.readUInt32LE(4) !== seq) return false;
  const offset = bodyOffset(streamIndex, seq);
  return PATTERN.compare(bytes, HEADER_BYTES, FRAME_BYTES, offset, offset + BODY_BYTES) === 0;
}
