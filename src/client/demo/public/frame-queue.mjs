/**
 * Frames from the capture worklet, in order, until it ends (or the page stops
 * taking them). A live source (the microphone) does not wait for the network:
 * while the client's sends wait (a backend outage), its frames pile up here, so
 * the queue keeps at most `limit` frames and drops (and counts) the newest past
 * that. A file's frames are all in memory already (its decoded audio), so its
 * queue has no limit.
 */
export class FrameQueue {
  frames = [];
  ended = false;
  waiting = null;
  /** Frames refused because the queue was full. */
  dropped = 0;

  constructor(limit = Infinity) {
    this.limit = limit;
  }

  /** Queues a frame; false when it was dropped (the queue is full). */
  push(frame) {
    if (this.ended) return false;
    if (this.frames.length >= this.limit) {
      this.dropped += 1;
      return false;
    }
    this.frames.push(frame);
    this.wake();
    return true;
  }

  end() {
    this.ended = true;
    this.wake();
  }

  /** Stop now: frames not yet taken are dropped. */
  cancel() {
    this.frames.length = 0;
    this.end();
  }

  wake() {
    this.waiting?.();
    this.waiting = null;
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      if (this.frames.length > 0) yield this.frames.shift();
      else if (this.ended) return;
      else await new Promise((resolve) => (this.waiting = resolve));
    }
  }
}
