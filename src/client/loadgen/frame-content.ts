/**
 * What the load generator sends: frame `seq` of stream `index` follows from
 * (index, seq) alone, so nothing is kept in memory to re-send after a resume
 * and `--verify` checks every stored frame byte for byte. Two sources: a
 * pattern (the stream index and seq, then a slice of a fixed pseudo-random
 * pattern at an offset that depends on both), or a WAV file's PCM data looped
 * (each stream starts at its own offset in the loop).
 */
const HEADER_BYTES = 8;
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

export interface FrameSource {
  readonly frameBytes: number;
  /** Frame `seq` (from 1) of stream `index`. */
  frame(index: number, seq: number): Buffer;
  /** True when `bytes` is exactly frame `seq` of stream `index`. */
  matches(bytes: Buffer, index: number, seq: number): boolean;
}

/** The largest frame the pattern can fill (its body is a slice of the pattern). */
export const MAX_PATTERN_FRAME_BYTES = PATTERN_BYTES - HEADER_BYTES;

/**
 * Pattern frames. A frame of 8 bytes or more starts with the stream index and
 * seq (uint32 LE), so a stray frame names where it came from; smaller frames
 * are pattern bytes only.
 */
export class PatternFrames implements FrameSource {
  private readonly header: number;
  private readonly body: number;

  constructor(readonly frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes < 1 || frameBytes > MAX_PATTERN_FRAME_BYTES)
      throw new RangeError(`frame size ${frameBytes} is outside 1..${MAX_PATTERN_FRAME_BYTES}`);
    this.header = frameBytes >= HEADER_BYTES ? HEADER_BYTES : 0;
    this.body = frameBytes - this.header;
  }

  frame(index: number, seq: number): Buffer {
    const frame = Buffer.allocUnsafe(this.frameBytes);
    if (this.header) {
      frame.writeUInt32LE(index >>> 0, 0);
      frame.writeUInt32LE(seq >>> 0, 4);
    }
    const offset = this.offset(index, seq);
    PATTERN.copy(frame, this.header, offset, offset + this.body);
    return frame;
  }

  matches(bytes: Buffer, index: number, seq: number): boolean {
    if (bytes.length !== this.frameBytes) return false;
    if (this.header && (bytes.readUInt32LE(0) !== index >>> 0 || bytes.readUInt32LE(4) !== seq >>> 0)) return false;
    const offset = this.offset(index, seq);
    return PATTERN.compare(bytes, this.header, this.frameBytes, offset, offset + this.body) === 0;
  }

  private offset(index: number, seq: number): number {
    return (index * 7919 + seq * 104_729) % (PATTERN_BYTES - this.body);
  }
}

/**
 * A WAV file's audio looped: stream `index` starts `index` frames into the
 * loop, so streams differ, and frame `seq` is the next `frameBytes` of the loop
 * (wrapping at its end).
 */
export class LoopedAudioFrames implements FrameSource {
  constructor(
    private readonly audio: Buffer,
    readonly frameBytes: number,
  ) {
    if (audio.length === 0) throw new RangeError('the audio to loop is empty');
    if (!Number.isInteger(frameBytes) || frameBytes < 1) throw new RangeError(`frame size ${frameBytes} is not valid`);
  }

  frame(index: number, seq: number): Buffer {
    const frame = Buffer.allocUnsafe(this.frameBytes);
    let from = ((index + seq - 1) * this.frameBytes) % this.audio.length;
    let written = 0;
    while (written < this.frameBytes) {
      const n = Math.min(this.frameBytes - written, this.audio.length - from);
      this.audio.copy(frame, written, from, from + n);
      written += n;
      from = 0;
    }
    return frame;
  }

  matches(bytes: Buffer, index: number, seq: number): boolean {
    return bytes.length === this.frameBytes && bytes.equals(this.frame(index, seq));
  }
}
