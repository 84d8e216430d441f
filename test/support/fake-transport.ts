/**
 * A StreamTransport that records what the session did to its socket. Like ws,
 * close() and terminate() only stop the socket being open: the session hears
 * of the close when the test says so (peerCloses), as ws's 'close' event would.
 */
import type { StreamTransport } from '../../src/worker/stream/stream-transport';

export type Reply = Record<string, unknown> & { type?: string; event?: string };

export class FakeTransport implements StreamTransport {
  isOpen = true;
  /** What the peer has left unread; a test sets it to play a client that does not read. */
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;
  paused = false;
  /** Makes close() throw, as ws does for a reason it cannot send. */
  closeThrows = false;

  send(text: string): void {
    this.sent.push(text);
  }

  close(code: number, reason: string): void {
    if (this.closeThrows) throw new Error('close failed');
    this.closedWith = { code, reason };
    this.isOpen = false;
  }

  terminate(): void {
    this.terminated = true;
    this.isOpen = false;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Every reply sent, parsed. */
  replies(): Reply[] {
    return this.sent.map((text) => JSON.parse(text) as Reply);
  }

  /** The replies' types (v1 dialect), in order. */
  replyTypes(): string[] {
    return this.replies().map((r) => String(r.type));
  }
}
