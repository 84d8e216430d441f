/**
 * A stream's frames waiting to become one `audio` record. Each frame is copied,
 * on arrival, into one per-stream slab that then is the record's payload:
 * - the Buffer ws hands over is a view into the socket's read chunk; kept for a
 *   whole record (BUFFER_DURATION_MS), it would live long enough to reach V8's
 *   old generation, and every frame's chunk, Buffer and ArrayBuffer would stay
 *   allocated until a full collection. Copied, it dies young (a scavenge);
 * - the record is one allocation instead of a Buffer per frame, with no
 *   concatenation at flush.
 * The slab is sized by the stream's previous record plus a sixteenth: a
 * real-time stream sends about the same bytes per record, give or take a frame
 * of timer jitter, so a steady stream copies each frame once; a record that
 * outgrows it grows it by half. RecordBuilder.audio turns it into the record.
 */
import { FrameSizeRuns, type FrameSizeField } from '../../shared/publishing/frame-sizes';

/** The first record's slab, before the stream's rate is known: 50 frames of 160 bytes (1 s of 8 kHz mu-law). */
export const FIRST_SLAB_BYTES = 8 * 1024;

export class FrameBuffer {
  private slab: Buffer | undefined;
  private readonly sizes = new FrameSizeRuns();
  private frames = 0;
  private bytesHeld = 0;
  /** The last record's bytes: what the next one's slab is sized for. */
  private expectedBytes = FIRST_SLAB_BYTES;
  private startSeq = 0;
  private endSeq = 0;
  private startedAt = 0;

  get bytes(): number {
    return this.bytesHeld;
  }

  get count(): number {
    return this.frames;
  }

  /** The seq of the oldest frame held (meaningless while empty). */
  get firstSeq(): number {
    return this.startSeq;
  }

  /** The seq of the newest frame held (meaningless while empty). */
  get lastSeq(): number {
    return this.endSeq;
  }

  /** When the oldest frame held arrived, in epoch ms: the record's received_at. */
  get firstAt(): number {
    return this.startedAt;
  }

  /** Copies the frame in; returns true when it is the first of a new record (arm the flush timer). */
  add(frame: Buffer, seq: number, now: number): boolean {
    const first = this.frames === 0;
    if (first) {
      this.startSeq = seq;
      this.startedAt = now;
    }
    this.endSeq = seq;
    const end = this.bytesHeld + frame.length;
    const slab = this.slab === undefined || end > this.slab.length ? this.grow(end) : this.slab;
    slab.set(frame, this.bytesHeld);
    this.bytesHeld = end;
    this.frames++;
    this.sizes.add(frame.length);
    return first;
  }

  /** The held frames' sizes as the record carries them; call before takePayload(), which empties the buffer. */
  takeFrameSizes(): FrameSizeField {
    return this.sizes.take();
  }

  /**
   * Empties the buffer: the frames' bytes in order. A slab filled less than
   * half (a record cut short: stop, a gap, a slower stream) is copied to its
   * size, so a payload never holds much more memory than its bytes.
   */
  takePayload(): Buffer {
    const bytes = this.bytesHeld;
    const slab = this.slab;
    this.slab = undefined;
    this.frames = 0;
    this.bytesHeld = 0;
    if (slab === undefined) return Buffer.alloc(0);
    if (bytes > 0) this.expectedBytes = bytes;
    if (bytes * 2 >= slab.length) return slab.subarray(0, bytes);
    const payload = unpooled(bytes);
    slab.copy(payload, 0, 0, bytes);
    return payload;
  }

  /** A slab for at least `bytes`, holding what was copied so far. */
  private grow(bytes: number): Buffer {
    const old = this.slab;
    // A flush timer that fires a frame late makes a record one frame longer than the last:
    // the headroom keeps that from growing (and copying) the slab.
    const size = Math.max(
      bytes,
      old === undefined ? this.expectedBytes + (this.expectedBytes >>> 4) : old.length + (old.length >>> 1),
    );
    const slab = unpooled(size);
    if (old !== undefined && this.bytesHeld > 0) old.copy(slab, 0, 0, this.bytesHeld);
    this.slab = slab;
    return slab;
  }
}

/**
 * Never from Buffer's shared pool: a payload there would keep its neighbours' 8 KiB alive. Not zeroed:
 * only the bytes copied in are ever read (a payload is the slab up to bytesHeld).
 */
function unpooled(bytes: number): Buffer {
  return Buffer.allocUnsafeSlow(bytes);
}
