/**
 * A stream's frames waiting to become one `audio` record. Frames are kept as
 * the Buffers ws handed over and concatenated once, at flush: the hot path is
 * an array push and two additions.
 */
import type { AudioRecord, RecordBase } from '../../shared/publishing/records';
import type { MediaFormat } from '../../shared/protocol';

export class FrameBuffer {
  private frames: Buffer[] = [];
  private bytesHeld = 0;
  private firstSeq = 0;
  private lastSeq = 0;
  private firstAt = 0;

  get bytes(): number {
    return this.bytesHeld;
  }

  get count(): number {
    return this.frames.length;
  }

  /** Returns true when this frame is the first of a new record (arm the flush timer). */
  add(frame: Buffer, seq: number, now: number): boolean {
    const first = this.frames.length === 0;
    if (first) {
      this.firstSeq = seq;
      this.firstAt = now;
    }
    this.lastSeq = seq;
    this.frames.push(frame);
    this.bytesHeld += frame.length;
    return first;
  }

  /** Empties the buffer into one audio record; undefined when there is nothing to flush. */
  take(base: Omit<RecordBase, 'received_at'>, media: MediaFormat): AudioRecord | undefined {
    const count = this.frames.length;
    if (count === 0) return undefined;
    const payload = count === 1 ? this.frames[0] : Buffer.concat(this.frames, this.bytesHeld);
    const record: AudioRecord = {
      type: 'audio',
      ...base,
      received_at: new Date(this.firstAt).toISOString(),
      seq_start: this.firstSeq,
      seq_end: this.lastSeq,
      frames: count,
      encoding: media.encoding,
      sample_rate: media.sample_rate,
      channels: media.channels,
      payload,
    };
    this.frames = [];
    this.bytesHeld = 0;
    return record;
  }
}
