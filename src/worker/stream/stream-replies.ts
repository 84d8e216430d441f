/**
 * What a stream says back to its client (protocol.md 1.3), in the dialect its
 * `start` chose: v1 `type` messages or legacy `event` ones. Sources whose peer
 * must receive nothing (the telephony applets) have no dialect, and every
 * reply is then skipped. A reply to a socket that is no longer open is dropped.
 *
 * A client that stops reading would otherwise make every ack and `committed`
 * grow the worker's memory: a reply that would take the socket's unsent bytes
 * past MAX_SEND_BUFFER_BYTES is dropped, as is every reply after it, and the
 * session is told once (it closes the stream with 1008).
 */
import type { ServerMessages } from '../../shared/protocol';
import type { StreamTransport } from './stream-transport';

export interface SendBufferListener {
  /** Called once, with the bytes the socket held, when a reply did not fit. */
  onSendBufferFull(bufferedBytes: number): void;
}

export class StreamReplies {
  private full = false;

  constructor(
    private readonly transport: StreamTransport,
    private messages: ServerMessages | undefined,
    private readonly maxBytes: number,
    private readonly listener: SendBufferListener,
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
    if (messages) this.send(messages.started(streamId, interactionId, nextSeq));
  }

  ack(seq: number): void {
    const messages = this.writable();
    if (messages) this.send(messages.ack(seq));
  }

  committed(seq: number): void {
    const messages = this.writable();
    if (messages) this.send(messages.committed(seq));
  }

  stopped(lastSeq: number, frames: number): void {
    const messages = this.writable();
    if (messages) this.send(messages.stopped(lastSeq, frames));
  }

  error(code: string, message: string): void {
    const messages = this.writable();
    if (messages) this.send(messages.error(code, message));
  }

  private send(text: string): void {
    const buffered = this.transport.bufferedAmount;
    // The cap bounds memory, not bytes exactly: a reply's length in characters is near enough (ids are ASCII).
    if (buffered + text.length <= this.maxBytes) return this.transport.send(text);
    this.full = true;
    this.listener.onSendBufferFull(buffered);
  }

  private writable(): ServerMessages | undefined {
    return this.transport.isOpen && !this.full ? this.messages : undefined;
  }
}
