/**
 * One native-protocol stream of the load (docs/protocol.md 1.2-1.4): sends
 * what its clock says is due (or, at --max-rate, what its ack window allows),
 * measures each `ack` and `committed` against the time the frame was written,
 * and resumes the way a well-behaved client does. On 1001, 1006, 1011, 1012 or
 * 1013, and on an upgrade refused with Retry-After, it reconnects after a
 * delay that depends on the cause and grows, with jitter, while attempts fail
 * in a row (until the run's end plus a grace), starts again with first_seq = last
 * committed + 1 and re-sends every frame after it (frame content follows from
 * (stream, seq), so nothing is kept to re-send). Audio keeps falling due while
 * it is away, as a call does not pause. It ends with `stop`, `stopped`, 1000.
 */
import WebSocket from 'ws';
import { bump, SendTimes, type LoadStream, type StreamResult, type StreamSettings } from './load-stream';

const CONNECT_TIMEOUT_MS = 10_000;
/** Above this many unsent bytes on the socket the stream waits (the server paused reading). */
const MAX_BUFFERED_BYTES = 1 << 20;
const MAX_BACKOFF_MS = 5_000;
/** A failed attempt after an immediate one (1012) grows from this. */
const MIN_GROWN_MS = 100;
/** Jitter: up to half the delay plus this, so a roll's clients do not all come back at once. */
const JITTER_MS = 100;
/** Base delay before resuming, by close code (protocol.md 1.4: "only the delay differs"). */
const RESUME_BASE_MS: Readonly<Record<number, number>> = { 1012: 0, 1001: 100, 1006: 200, 1011: 1000, 1013: 1000 };

/**
 * The delay before attempt `failuresInRow` (from 1) of a resume: the cause's
 * base first, then doubling (from at least MIN_GROWN_MS) up to MAX_BACKOFF_MS,
 * plus a random share (`random` in [0, 1)).
 */
export function resumeDelayMs(base: number, failuresInRow: number, random: number): number {
  const grown =
    failuresInRow <= 1
      ? base
      : Math.min(MAX_BACKOFF_MS, Math.max(base, MIN_GROWN_MS) * 2 ** Math.min(failuresInRow - 1, 6));
  return Math.round(grown + random * (grown / 2 + JITTER_MS));
}

type State = 'idle' | 'waiting' | 'connecting' | 'starting' | 'streaming' | 'stopping' | 'done' | 'gave_up' | 'failed';

interface ServerMessage {
  readonly type?: string;
  readonly seq?: number;
  readonly next_seq?: number;
  readonly last_seq?: number;
  readonly code?: string;
}

export class NativeStream implements LoadStream {
  private due = 0;
  private next = 1;
  private highestSent = 0;
  private written = 0;
  private acked = 0;
  private committed = 0;
  private stoppedAt: number | undefined;
  private readonly closes: Record<string, number> = {};
  private connections = 0;
  private failure: string | undefined;
  private state: State = 'idle';
  private everStarted = false;
  /** Between `started` and the close: counted in the tally's open streams. */
  private open = false;
  private ws: WebSocket | undefined;
  private stopWanted = false;
  private failuresInRow = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private readonly sendTimes = new SendTimes();
  private readonly finishedWaiters: Array<() => void> = [];

  constructor(
    readonly index: number,
    readonly interactionId: string,
    private readonly settings: StreamSettings,
    /** When frame 1 falls due (epoch ms): a frame whose send time has left the ring is measured from its due time. */
    private readonly startAt: number,
  ) {}

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

  keepalive(): void {
    if (this.state === 'streaming') this.ws?.send('{"type":"keepalive"}');
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
      acked: this.acked,
      committed: this.committed,
      closes: { ...this.closes },
      connections: this.connections,
      outcome: this.failure ? `failed: ${this.failure}` : !this.everStarted ? 'never_started' : this.state,
    };
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
    let refused: { status: number; retryMs: number | undefined } | undefined;
    ws.on('open', () => {
      opened = true;
      this.state = 'starting';
      ws.send(
        JSON.stringify({
          type: 'start',
          interaction_id: this.interactionId,
          media: this.settings.media,
          first_seq: this.committed + 1,
        }),
      );
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
      if (!isBinary) this.onMessage(data);
    });
    ws.on('error', () => undefined); // surfaced through 'close'
    ws.on('close', (code, reason) => this.onClose(ws, { code, reason: reason.toString(), opened, refused }));
  }

  private onMessage(data: Buffer): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(data.toString('utf8')) as ServerMessage;
    } catch {
      this.fail(`unparsable server message: ${data.toString('utf8').slice(0, 100)}`);
      return;
    }
    const now = this.settings.clock();
    switch (message.type) {
      case 'started':
        if (message.next_seq !== this.committed + 1) {
          this.fail(`started.next_seq ${message.next_seq} after first_seq ${this.committed + 1}`);
          return;
        }
        if (!this.everStarted) this.settings.tally.streamsStarted++;
        this.everStarted = true;
        this.settings.tally.streamsOpen++;
        this.open = true;
        this.state = 'streaming';
        this.failuresInRow = 0;
        this.next = this.committed + 1;
        this.pump();
        break;
      case 'ack':
        this.onAck(message.seq ?? 0, now);
        break;
      case 'committed':
        this.onCommitted(message.seq ?? 0, now);
        break;
      case 'stopped':
        this.stoppedAt = message.last_seq ?? 0;
        if (this.stoppedAt !== this.highestSent) {
          this.fail(`stopped.last_seq ${this.stoppedAt} but ${this.highestSent} sent`);
          return;
        }
        // The server answers stop only once the backend confirmed every frame (protocol.md 1.3).
        this.onCommitted(this.stoppedAt, now);
        // `stopped` confirms (and so acknowledges) all: the tail after the last ack, without a latency sample.
        if (this.stoppedAt > this.acked) {
          this.settings.tally.acked(now, this.stoppedAt - this.acked, null);
          this.acked = this.stoppedAt;
        }
        break;
      default:
        break; // `error` precedes a close, which decides
    }
  }

  private onAck(seq: number, now: number): void {
    if (seq <= this.acked) return; // a resumed connection acks again what was acked before
    const sentAt = this.sentAt(seq);
    this.settings.tally.acked(now, seq - this.acked, sentAt === undefined ? undefined : now - sentAt);
    this.acked = seq;
    if (this.settings.maxRate) this.pump();
  }

  private onCommitted(seq: number, now: number): void {
    if (seq <= this.committed) return;
    const sentAt = this.sentAt(seq);
    const oldestAt = this.sentAt(this.committed + 1);
    this.settings.tally.committed(
      now,
      seq - this.committed,
      sentAt === undefined ? undefined : now - sentAt,
      oldestAt === undefined ? undefined : now - oldestAt,
    );
    this.committed = seq;
  }

  /** When frame `seq` was last written; its due time when that has left the ring (real time only). */
  private sentAt(seq: number): number | undefined {
    const at = this.sendTimes.at(seq);
    if (at !== undefined || this.settings.maxRate) return at;
    return this.startAt + (seq - 1) * this.settings.frameMs;
  }

  private onClose(
    ws: WebSocket,
    close: {
      code: number;
      reason: string;
      opened: boolean;
      refused: { status: number; retryMs: number | undefined } | undefined;
    },
  ): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    if (this.open) this.settings.tally.streamsOpen--;
    this.open = false;
    if (this.finished) return;
    let delay: number;
    if (close.refused) {
      if (close.refused.retryMs === undefined) {
        this.fail(`upgrade refused with ${close.refused.status}`);
        return;
      }
      this.failuresInRow++;
      delay = close.refused.retryMs + Math.round(Math.random() * (close.refused.retryMs / 2 + JITTER_MS));
      this.settings.tally.resumes++;
    } else if (!close.opened) {
      // Not a resume: the attempt before it is still the one being retried.
      this.settings.tally.failedConnections++;
      delay = this.backoff(RESUME_BASE_MS[1006]);
    } else {
      bump(this.closes, String(close.code));
      this.settings.tally.close(String(close.code));
      if (close.code === 1000 && this.stoppedAt !== undefined) {
        this.finish('done');
        return;
      }
      const base = RESUME_BASE_MS[close.code];
      if (base === undefined) {
        this.fail(`closed with ${close.code} (${close.reason || 'no reason'}), not a close to resume after`);
        return;
      }
      delay = this.backoff(base);
      this.settings.tally.resumes++;
    }
    if (this.settings.clock() + delay > this.settings.retryUntil) {
      this.fail(`could not get through by the end of the run plus its grace (last: ${this.lastProblem(close)})`);
      return;
    }
    this.state = 'waiting';
    this.retryTimer = setTimeout(() => {
      if (!this.finished) this.connect();
    }, delay);
  }

  private backoff(base: number): number {
    this.failuresInRow++;
    return resumeDelayMs(base, this.failuresInRow, Math.random());
  }

  private lastProblem(close: { code: number; opened: boolean; refused: { status: number } | undefined }): string {
    if (close.refused) return `upgrade refused with ${close.refused.status}`;
    return close.opened ? `closed with ${close.code}` : 'no answer';
  }

  private pump(): void {
    const ws = this.ws;
    if (this.state !== 'streaming' || !ws) return;
    const limit = this.settings.maxRate && !this.stopWanted ? this.acked + this.settings.windowFrames : this.due;
    const last = Math.min(limit, this.due);
    const now = this.settings.clock();
    while (this.next <= last && ws.bufferedAmount < MAX_BUFFERED_BYTES) {
      const seq = this.next++;
      ws.send(this.settings.frames.frame(this.index, seq), { binary: true });
      this.sendTimes.record(seq, now);
      this.written++;
      this.settings.tally.sent(now, seq > this.highestSent);
      if (seq > this.highestSent) this.highestSent = seq;
    }
    if (this.next <= last) {
      // The server stopped reading (back-pressure): try again shortly, even when no new frame falls due.
      this.pumpTimer ??= setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, 20);
      return;
    }
    if (this.stopWanted && this.next > this.due) {
      this.state = 'stopping';
      ws.send('{"type":"stop"}');
    }
  }

  private fail(why: string): void {
    this.failure ??= why;
    this.finish('failed');
    this.ws?.terminate();
  }

  private finish(state: 'done' | 'gave_up' | 'failed'): void {
    this.state = state;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pumpTimer);
    for (const resolve of this.finishedWaiters.splice(0)) resolve();
  }
}
