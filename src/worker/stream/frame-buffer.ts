/**
 * A stream's frames waiting to become one `audio` record. Frames are kept as
 * the Buffers ws handed over and concatenated once, at flush: the hot path is
 * an array push, two additions and the frame size's run count.
 * RecordBuilder.audio turns them into the record.
 */
import { FrameSizeRuns, type FrameSizeField } from '../../shared/publishing/frame-sizes';

export class FrameBuffer {
  private frames: Buffer[] = [];
  private readonly sizes = new FrameSizeRuns();
  private bytesHeld = 0;
  private startSeq = 0;
  private endSeq = 0;
  private startedAt = 0;

  get bytes(): number {
    return this.bytesHeld;
  }

  get count(): number {
    return this.frames.length;
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

  /** Returns true when this frame is the first of a new record (arm the flush timer). */
  add(frame: Buffer, seq: number, now: number): boolean {
    const first = this.frames.length === 0;
    if (first) {
      this.startSeq = seq;
      this.startedAt = now;
    }
    this.endSeq = seq;
    this.frames.push(frame);
    this.bytesHeld += frame.length;
    this.sizes.add(frame.length);
    return first;
  }

  /** The held frames' sizes as the record carries them; call before takePayload(), which empties the buffer. */
  takeFrameSizes(): FrameSizeField {
    return this.sizes.take();
  }

  /** Empties the buffer: the frames' bytes in order, concatenated only when there is more than one. */
  takePayload(): Buffer {
    const frames = this.frames;
    const payload = frames.length === 1 ? frames[0] : Buffer.concat(frames, this.bytesHeld);
    this.frames = [];
    this.bytesHeld = 0;
    return payload;
  }
}
