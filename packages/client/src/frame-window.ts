/**
 * The frames the client holds until a `committed` covers them, numbered by seq, with
 * their total size capped. A frame enters when there is room: at once, or (for callers
 * that wait) in arrival order as commits free room, so seqs follow the order of `send`.
 * The frames of waiting callers are capped too, at the same size: a caller that does not
 * await each send (a worklet's onmessage) is refused instead of growing memory unbounded.
 */
import { IngestClientError } from './errors.js';

interface Waiter {
  readonly frame: Uint8Array;
  readonly resolve: (seq: number) => void;
  readonly reject: (err: Error) => void;
}

export class FrameWindow {
  private frames: Uint8Array[] = [];
  /** Index in `frames` of the oldest frame held (dropping from the front without shifting each time). */
  private head = 0;
  private heldBytes = 0;
  private readonly waiters: Waiter[] = [];
  private waitersBytes = 0;
  /** Seq of the newest frame numbered (firstSeq - 1 before the first). */
  private last: number;

  constructor(
    firstSeq: number,
    readonly maxBytes: number,
  ) {
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 1)
      throw new IngestClientError('invalid_options', 'firstSeq must be a positive integer');
    if (!(maxBytes > 0)) throw new IngestClientError('invalid_options', 'maxUncommittedBytes must be positive');
    this.last = firstSeq - 1;
  }

  /** Seq of the oldest frame held: last committed + 1 (the `first_seq` of a resume). */
  get firstSeq(): number {
    return this.last - this.count + 1;
  }

  get lastSeq(): number {
    return this.last;
  }

  get count(): number {
    return this.frames.length - this.head;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Callers waiting for room. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** The bytes of the frames that wait for room (at most `maxBytes`). */
  get waitingBytes(): number {
    return this.waitersBytes;
  }

  /** The frame of `seq`, if held. */
  frame(seq: number): Uint8Array | undefined {
    if (seq < this.firstSeq || seq > this.last) return undefined;
    return this.frames[this.head + seq - this.firstSeq];
  }

  /** Takes the frame now, or throws `buffer_full` (and never jumps callers already waiting). */
  push(frame: Uint8Array): number {
    if (this.waiters.length > 0 || !this.fits(frame.byteLength)) {
      throw new IngestClientError(
        'buffer_full',
        `${this.heldBytes} bytes are uncommitted and a ${frame.byteLength}-byte frame would pass ` +
          `maxUncommittedBytes (${this.maxBytes})`,
      );
    }
    return this.append(frame);
  }

  /**
   * Takes the frame once there is room, after every caller that waited before it; rejects with
   * `buffer_full` at once if the waiting frames would pass `maxBytes` (or this one can never fit).
   */
  pushWhenRoom(frame: Uint8Array): Promise<number> {
    if (this.waiters.length === 0 && this.fits(frame.byteLength)) return Promise.resolve(this.append(frame));
    if (this.waitersBytes + frame.byteLength > this.maxBytes) {
      return Promise.reject(
        new IngestClientError(
          'buffer_full',
          `${this.waitersBytes} bytes of sends already wait for room and a ${frame.byteLength}-byte frame would ` +
            `pass maxUncommittedBytes (${this.maxBytes}) of them: await each send() before the next`,
        ),
      );
    }
    this.waitersBytes += frame.byteLength;
    return new Promise((resolve, reject) => this.waiters.push({ frame, resolve, reject }));
  }

  /** Drops every frame up to `seq`, then lets waiters in. Returns the number of frames dropped. */
  commitThrough(seq: number): number {
    let dropped = 0;
    while (this.count > 0 && this.firstSeq <= seq) {
      this.heldBytes -= this.frames[this.head].byteLength;
      this.head++;
      dropped++;
    }
    // Compact once the dropped prefix dominates, so the array does not grow for the stream's life.
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
    this.admitWaiters();
    return dropped;
  }

  /** Rejects every waiting caller (the client is closing). */
  rejectWaiters(err: Error): void {
    this.waitersBytes = 0;
    for (const waiter of this.waiters.splice(0)) waiter.reject(err);
  }

  private fits(size: number): boolean {
    return this.heldBytes + size <= this.maxBytes;
  }

  private append(frame: Uint8Array): number {
    this.frames.push(frame);
    this.heldBytes += frame.byteLength;
    return ++this.last;
  }

  private admitWaiters(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0].frame.byteLength)) {
      const waiter = this.waiters.shift() as Waiter;
      this.waitersBytes -= waiter.frame.byteLength;
      waiter.resolve(this.append(waiter.frame));
    }
  }
}
