/**
 * A WebSocket with the standard API that the test drives by hand: the test opens it,
 * speaks for the server and closes it, and reads what the client sent. Every instance
 * is kept in order, so a test can follow a client across reconnects.
 */

export interface FakeCloseEvent {
  readonly code: number;
  readonly reason: string;
}

export class FakeWebSocket {
  static readonly instances: FakeWebSocket[] = [];
  /** Resolvers waiting for the next instance. */
  private static waiters: Array<{ readonly index: number; readonly resolve: (ws: FakeWebSocket) => void }> = [];

  binaryType = 'blob';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { readonly data: unknown }) => void) | null = null;
  onclose: ((event: FakeCloseEvent) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: Array<string | Uint8Array> = [];
  /** What the client asked when it closed, if it did. */
  closedByClient: FakeCloseEvent | undefined;
  private closed = false;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    const index = FakeWebSocket.instances.push(this) - 1;
    const ready = FakeWebSocket.waiters.filter((w) => w.index === index);
    FakeWebSocket.waiters = FakeWebSocket.waiters.filter((w) => w.index !== index);
    for (const waiter of ready) waiter.resolve(this);
  }

  /** Forgets every instance (between tests). */
  static reset(): void {
    FakeWebSocket.instances.length = 0;
    FakeWebSocket.waiters = [];
  }

  /** The instance number `index` (0-based), once the client has made it. */
  static nth(index: number): Promise<FakeWebSocket> {
    if (FakeWebSocket.instances[index]) return Promise.resolve(FakeWebSocket.instances[index]);
    return new Promise((resolve) => FakeWebSocket.waiters.push({ index, resolve }));
  }

  send(data: string | Uint8Array): void {
    if (this.closed) throw new Error('send on a closed fake socket');
    this.sent.push(typeof data === 'string' ? data : new Uint8Array(data));
  }

  close(code = 1005, reason = ''): void {
    if (this.closed) return;
    this.closedByClient = { code, reason };
    this.closed = true;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }

  // The server's side:

  open(): void {
    this.onopen?.({});
  }

  reply(message: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  serverClose(code: number, reason = ''): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.({ code, reason });
  }

  /** The JSON messages the client sent. */
  texts(): Array<Record<string, unknown>> {
    return this.sent.filter((d) => typeof d === 'string').map((d) => JSON.parse(d) as Record<string, unknown>);
  }

  /** The binary frames the client sent, in order. */
  frames(): Uint8Array[] {
    return this.sent.filter((d): d is Uint8Array => typeof d !== 'string');
  }

  /** Opens, answers the client's `start` with `started`, and returns the start message. */
  accept(streamId = 'stream-1'): Record<string, unknown> {
    this.open();
    const start = this.texts().find((m) => m.type === 'start');
    if (!start) throw new Error('the client sent no start');
    this.reply({
      type: 'started',
      stream_id: streamId,
      interaction_id: start.interaction_id,
      next_seq: start.first_seq,
    });
    return start;
  }
}
