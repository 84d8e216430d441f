/**
 * What a stream says back to its client (protocol.md 1.3), in the dialect its
 * `start` chose: v1 `type` messages or legacy `event` ones. Sources whose peer
 * must receive nothing (the telephony applets) have no dialect, and every
 * reply is then skipped. A reply to a socket that is no longer open is dropped.
 */
import type { ServerMessages } from '../../shared/protocol';
import type { StreamTransport } from './stream-transport';

export class StreamReplies {
  constructor(
    private readonly transport: StreamTransport,
    private messages: ServerMessages | undefined,
  ) {}

  /** Whether this stream's peer gets replies at all (acks are counted only then). */
  get enabled(): boolean {
    return this.messages !== undefined;
  }

  /** A legacy `start` switches the dialect before the first reply. */
  useDialect(messages: ServerMessages): void {
    this.messages = messages;
  }

  started(streamId: string, interactionId: string, nextSeq: number): void {
    const messages = this.writable();
    if (messages) this.transport.send(messages.started(streamId, interactionId, nextSeq));
  }

  ack(seq: number): void {
    const messages = this.writable();
    if (messages) this.transport.send(messages.ack(seq));
  }

  committed(seq: number): void {
    const messages = this.writable();
    if (messages) this.transport.send(messages.committed(seq));
  }

  stopped(lastSeq: number, frames: number): void {
    const messages = this.writable();
    if (messages) this.transport.send(messages.stopped(lastSeq, frames));
  }

  error(code: string, message: string): void {
    const messages = this.writable();
    if (messages) this.transport.send(messages.error(code, message));
  }

  private writable(): ServerMessages | undefined {
    return this.transport.isOpen ? this.messages : undefined;
  }
}
