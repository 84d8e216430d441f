/**
 * What a load stream of either dialect does with its WebSocket, so that the
 * native and telephony streams keep only their protocol: one connection at a
 * time (credentials, handshake timeout, a refused upgrade and its Retry-After),
 * the open-stream, refusal, failed-connection and close counts, sending what is
 * due under back-pressure, a later reconnect, and the end of the stream (done,
 * failed with its reason, or given up) with every timer released.
 */
import WebSocket from 'ws';
import { bump, type LoadStream, type StreamResult, type StreamSettings } from './load-stream';

const CONNECT_TIMEOUT_MS = 10_000;
/** Above this many unsent bytes on the socket the stream waits (the server paused reading). */
const MAX_BUFFERED_BYTES = 1 << 20;
/** How soon a stream held back by back-pressure tries again. */
const BACKPRESSURE_RETRY_MS = 20;

type State = 'idle' | 'waiting' | 'connecting' | 'starting' | 'streaming' | 'stopping' | 'done' | 'gave_up' | 'failed';

/** An upgrade the server answered with an HTTP status; `retryMs` from its Retry-After, if any. */
export interface Refusal {
  readonly status: number;
  readonly retryMs: number | undefined;
}

/** How a connection ended: `opened` false and no refusal is a connection that got no answer. */
export interface SocketClose {
  readonly code: number;
  readonly reason: string;
  readonly opened: boolean;
  readonly refused: Refusal | undefined;
}

export abstract class SocketStream implements LoadStream {
  /** Frames up to this seq are due. */
  protected due = 0;
  /** The next seq to write (rewound by a resume). */
  protected next = 1;
  protected highestSent = 0;
  protected state: State = 'idle';
  protected stopWanted = false;
  protected ws: WebSocket | undefined;
  private written = 0;
  private readonly closes: Record<string, number> = {};
  private connections = 0;
  private failure: string | undefined;
  private everStarted = false;
  /** Between the stream's start and the close: counted in the tally's open streams. */
  private open = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private readonly finishedWaiters: Array<() => void> = [];

  constructor(
    readonly index: number,
    readonly interactionId: string,
    protected readonly settings: StreamSettings,
  ) {}

  abstract keepalive(): void;

  /** The connection is open: the dialect's opening messages. */
  protected abstract onOpen(ws: WebSocket): void;

  /** A text message from the server. */
  protected abstract onText(data: Buffer): void;

  /** The connection closed (already counted) on a stream not finished: finish, fail or reconnect. */
  protected abstract onSocketClose(close: SocketClose): void;

  /** Writes frame `seq`, or the dialect's message that carries it. */
  protected abstract sendFrame(ws: WebSocket, seq: number, now: number): void;

  /** Everything due is written: end the stream the dialect's way. */
  protected abstract sendStop(ws: WebSocket): void;

  /** Highest acked and committed seq for the result; null where the dialect has none. */
  protected abstract confirmed(): Pick<StreamResult, 'acked' | 'committed'>;

  get finished(): boolean {
    return this.state === 'done' || this.state === 'gave_up' || this.state === 'failed';
  }

  advance(seq: number): number {
    if (this.stopWanted || this.finished) return 0;
    const from = this.due + 1;
    if (seq > this.due) this.due = seq;
    if (this.state === 'idle') {
      this.connect();
      return 0;
    }
    this.pump();
    return seq >= from && this.next > seq ? from : 0;
  }

  stop(): void {
    if (this.stopWanted || this.finished) return;
    this.stopWanted = true;
    // At --max-rate nothing more falls due: the stream ends after what it wrote.
    if (this.settings.maxRate) this.due = this.highestSent;
    if (this.state === 'idle') this.finish('done');
    else this.pump();
  }

  giveUp(): void {
    if (this.finished) return;
    this.finish('gave_up');
    this.ws?.terminate();
  }

  whenFinished(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve) => this.finishedWaiters.push(resolve));
  }

  result(): StreamResult {
    return {
      interaction_id: this.interactionId,
      index: this.index,
      sent: this.highestSent,
      written: this.written,
      ...this.confirmed(),
      closes: { ...this.closes },
      connections: this.connections,
      outcome: this.failure ? `failed: ${this.failure}` : !this.everStarted ? 'never_started' : this.state,
    };
  }

  /** The stream is under way (counted as started once, however often it resumes). */
  protected started(): void {
    if (!this.everStarted) this.settings.tally.streamsStarted++;
    this.everStarted = true;
    this.settings.tally.streamsOpen++;
    this.open = true;
    this.state = 'streaming';
  }

  /** How far the stream may write now; what is due unless the dialect holds it back. */
  protected sendLimit(): number {
    return this.due;
  }

  protected reconnectAfter(delayMs: number): void {
    this.state = 'waiting';
    this.retryTimer = setTimeout(() => {
      if (!this.finished) this.connect();
    }, delayMs);
  }

  protected pump(): void {
    const ws = this.ws;
    if (this.state !== 'streaming' || !ws) return;
    const last = Math.min(this.sendLimit(), this.due);
    const now = this.settings.clock();
    while (this.next <= last && ws.bufferedAmount < MAX_BUFFERED_BYTES) {
      const seq = this.next++;
      this.sendFrame(ws, seq, now);
      this.written++;
      this.settings.tally.sent(now, seq > this.highestSent);
      if (seq > this.highestSent) this.highestSent = seq;
    }
    if (this.next <= last) {
      // The server stopped reading (back-pressure): try again shortly, even when no new frame falls due.
      this.pumpTimer ??= setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, BACKPRESSURE_RETRY_MS);
      return;
    }
    if (this.stopWanted && this.next > this.due) {
      this.state = 'stopping';
      this.sendStop(ws);
    }
  }

  protected fail(why: string): void {
    this.failure ??= why;
    this.finish('failed');
    this.ws?.terminate();
  }

  protected finish(state: 'done' | 'gave_up' | 'failed'): void {
    this.state = state;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pumpTimer);
    for (const resolve of this.finishedWaiters.splice(0)) resolve();
  }

  private connect(): void {
    this.state = 'connecting';
    this.connections++;
    const ws = new WebSocket(this.settings.url, {
      headers: this.settings.credentials.headers(this.interactionId),
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      rejectUnauthorized: !this.settings.insecure,
    });
    this.ws = ws;
    let opened = false;
    let refused: Refusal | undefined;
    ws.on('open', () => {
      opened = true;
      this.onOpen(ws);
    });
    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = Number(res.headers['retry-after']);
      const status = res.statusCode ?? 0;
      refused = { status, retryMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined };
      this.settings.tally.refusal(status);
      res.resume();
      ws.terminate();
    });
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) this.onText(data);
    });
    ws.on('error', () => undefined); // surfaced through 'close'
    ws.on('close', (code, reason) => this.closed(ws, { code, reason: reason.toString(), opened, refused }));
  }

  private closed(ws: WebSocket, close: SocketClose): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    if (this.open) this.settings.tally.streamsOpen--;
    this.open = false;
    if (this.finished) return;
    if (close.opened) {
      bump(this.closes, String(close.code));
      this.settings.tally.close(String(close.code));
    } else if (!close.refused) {
      this.settings.tally.failedConnections++;
    }
    this.onSocketClose(close);
  }
}
