/**
 * What the load generator sends: frame `seq` of stream `index` follows from
 * (run nonce, index, seq) alone, so nothing is kept in memory to re-send after
 * a resume and `--verify` checks every stored frame byte for byte. Two
 * sources: a pattern (the stream index, seq and the run's nonce, then a slice
 * of a fixed pseudo-random pattern at an offset that depends on all three),
 * so an earlier run's frame under a reused prefix is told apart (`foreign`);
 * or a WAV file's PCM data looped (each stream starts at its own offset in
 * the loop), which carries no nonce.
 */
const HEADER_BYTES = 12;
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
  /** `match`; `foreign`: frame `seq` of stream `index`, but of another run (another nonce); else `corrupt`. */
  classify(bytes: Buffer, index: number, seq: number): FrameVerdict;
}

export type FrameVerdict = 'match' | 'foreign' | 'corrupt';

/** The largest frame the pattern can fill (its body is a slice of the pattern). */
export const MAX_PATTERN_FRAME_BYTES = PATTERN_BYTES - HEADER_BYTES;

/**
 * Pattern frames. A frame of 12 bytes or more starts with the stream index,
 * seq and run nonce (uint32 LE), so a stray frame names where it came from
 * and which run sent it; smaller frames are pattern bytes only (another run's
 * frame is then only `corrupt`).
 */
export class PatternFrames implements FrameSource {
  private readonly header: number;
  private readonly body: number;
  private readonly nonce: number;

  /** `nonce`: the run's (uint32); the chaos run uses the default. */
  constructor(
    readonly frameBytes: number,
    nonce = 0,
  ) {
    if (!Number.isInteger(frameBytes) || frameBytes < 1 || frameBytes > MAX_PATTERN_FRAME_BYTES)
      throw new RangeError(`frame size ${frameBytes} is outside 1..${MAX_PATTERN_FRAME_BYTES}`);
    this.header = frameBytes >= HEADER_BYTES ? HEADER_BYTES : 0;
    this.body = frameBytes - this.header;
    this.nonce = nonce >>> 0;
  }

  frame(index: number, seq: number): Buffer {
    const frame = Buffer.allocUnsafe(this.frameBytes);
    if (this.header) {
      frame.writeUInt32LE(index >>> 0, 0);
      frame.writeUInt32LE(seq >>> 0, 4);
      frame.writeUInt32LE(this.nonce, 8);
    }
    const offset = this.offset(index, seq, this.nonce);
    PATTERN.copy(frame, this.header, offset, offset + this.body);
    return frame;
  }

  matches(bytes: Buffer, index: number, seq: number): boolean {
    return this.classify(bytes, index, seq) === 'match';
  }

  classify(bytes: Buffer, index: number, seq: number): FrameVerdict {
    if (bytes.length !== this.frameBytes) return 'corrupt';
    let nonce = this.nonce;
    if (this.header) {
      if (bytes.readUInt32LE(0) !== index >>> 0 || bytes.readUInt32LE(4) !== seq >>> 0) return 'corrupt';
      nonce = bytes.readUInt32LE(8);
    }
    const offset = this.offset(index, seq, nonce);
    if (PATTERN.compare(bytes, this.header, this.frameBytes, offset, offset + this.body) !== 0) return 'corrupt';
    return nonce === this.nonce ? 'match' : 'foreign';
  }

  private offset(index: number, seq: number, nonce: number): number {
    return (index * 7919 + seq * 104_729 + (nonce % 65_521) * 31) % (PATTERN_BYTES - this.body);
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

  /** A WAV loop carries no nonce: another run's frame matches (the read-back marks runs by position instead). */
  classify(bytes: Buffer, index: number, seq: number): FrameVerdict {
    return this.matches(bytes, index, seq) ? 'match' : 'corrupt';
  }
}
