/**
 * One chaos stream: a native-protocol client that sends what its clock says is
 * due and resumes the way protocol.md 1.3-1.4 asks of a well-behaved client.
 * On 1001, 1006, 1011, 1012 or 1013 (and on a refused or unanswered connect)
 * it reconnects after a backoff that depends on the cause, starts again with
 * first_seq = last committed + 1 and re-sends every frame after it. Audio keeps
 * coming while it is away (a call does not pause), so after a resume it
 * catches up on what fell due meanwhile. It ends with `stop`, `stopped` and
 * 1000, or gives up when told to.
 *
 * It keeps counters only (no message log): the verifier needs the highest
 * seq sent, acked and committed, and the report the closes by code.
 */
import WebSocket from 'ws';
import { chaosFrame } from './chaos-frames';
import type { SeededRandom } from './seeded-random';

/** A connect attempt not answered within this is abandoned (a worker killed mid-handshake never answers). */
const CONNECT_TIMEOUT_MS = 5_000;
/** Above this many unsent bytes on the socket the client waits (the server paused reading). */
const MAX_BUFFERED_BYTES = 1 << 20;
const MAX_BACKOFF_MS = 5_000;

/** Base delay before resuming, by close code (protocol.md 1.4: "only the delay differs"). */
const RESUME_BASE_MS: Readonly<Record<number, number>> = { 1012: 0, 1001: 100, 1006: 200, 1011: 1000, 1013: 1000 };
/** Closes after which a client resumes. */
const RESUMABLE: ReadonlySet<number> = new Set(Object.keys(RESUME_BASE_MS).map(Number));

export type StreamState =
  'idle' | 'waiting' | 'connecting' | 'starting' | 'streaming' | 'stopping' | 'done' | 'gave_up';

export interface LoadClientOptions {
  readonly index: number;
  readonly interactionId: string;
  readonly url: string;
  readonly token: string;
  readonly random: SeededRandom;
}

export class LoadClient {
  /** Highest seq that is due by the clock (frames 1..due exist). */
  private due = 0;
  /** Next seq to write on the current connection. */
  private next = 1;
  highestSent = 0;
  /** Frame writes, re-sends after a resume included. */
  writes = 0;
  acked = 0;
  committed = 0;
  /** `stopped.last_seq`, once the server answered the stop. */
  stoppedAt: number | undefined;
  readonly closes = new Map<string, number>();
  connections = 0;
  /** Something a well-behaved client cannot fix (a 1008, a wrong next_seq): reported, never retried. */
  failure: string | undefined;
  state: StreamState = 'idle';
  private ws: WebSocket | undefined;
  private stopWanted = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private readonly finishedWaiters: Array<() => void> = [];

  constructor(private readonly options: LoadClientOptions) {}

  get interactionId(): string {
    return this.options.interactionId;
  }

  get index(): number {
    return this.options.index;
  }

  get finished(): boolean {
    return this.state === 'done' || this.state === 'gave_up';
  }

  /** Frames up to `seq` are due: send them if connected, else keep them for the resume. */
  advance(seq: number): void {
    if (this.stopWanted || seq <= this.due) return;
    this.due = seq;
    if (this.state === 'idle') this.connect();
    else this.pump();
  }

  /** No more frames: once everything due is sent, send `stop`. */
  stop(): void {
    if (this.stopWanted) return;
    this.stopWanted = true;
    if (this.state === 'idle')
      this.finish('done'); // never started: nothing to stop
    else this.pump();
  }

  /** Drops the connection as a flaky network would (the client sees 1006 and resumes). */
  dropConnection(): boolean {
    if (this.state !== 'streaming' || !this.ws) return false;
    this.ws.terminate();
    return true;
  }

  /** Stops trying (the end of the run's patience); an open socket is terminated. */
  giveUp(): void {
    if (this.finished) return;
    this.finish('gave_up');
    this.ws?.terminate();
  }

  whenFinished(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve) => this.finishedWaiters.push(resolve));
  }

  private connect(): void {
    this.state = 'connecting';
    this.connections++;
    const ws = new WebSocket(this.options.url, {
      headers: { Authorization: `Bearer ${this.options.token}` },
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    this.ws = ws;
    let refusedRetryMs: number | undefined;
    ws.on('open', () => {
      this.state = 'starting';
      ws.send(
        JSON.stringify({
          type: 'start',
          interaction_id: this.options.interactionId,
          media: { encoding: 'pcm_s16le', sample_rate: 8000, channels: 1 },
          first_seq: this.committed + 1,
        }),
      );
    });
    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = Number(res.headers['retry-after']);
      refusedRetryMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 500;
      this.count(`http_${res.statusCode ?? 0}`);
      res.resume();
      ws.terminate();
    });
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) this.onMessage(data);
    });
    ws.on('error', () => undefined); // surfaced through 'close'
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString(), refusedRetryMs));
  }

  private onMessage(data: Buffer): void {
    let message: { type?: string; seq?: number; next_seq?: number; last_seq?: number };
    try {
      message = JSON.parse(data.toString('utf8')) as typeof message;
    } catch {
      this.fail(`unparsable server message: ${data.toString('utf8').slice(0, 100)}`);
      return;
    }
    switch (message.type) {
      case 'started':
        if (message.next_seq !== this.committed + 1) {
          this.fail(`started.next_seq ${message.next_seq} after first_seq ${this.committed + 1}`);
          return;
        }
        this.state = 'streaming';
        this.failures = 0;
        this.next = this.committed + 1;
        this.pump();
        break;
      case 'ack':
        this.acked = Math.max(this.acked, message.seq ?? 0);
        break;
      case 'committed':
        this.committed = Math.max(this.committed, message.seq ?? 0);
        break;
      case 'stopped':
        this.stoppedAt = message.last_seq;
        if (message.last_seq !== this.highestSent) {
          this.fail(`stopped.last_seq ${message.last_seq} but ${this.highestSent} sent`);
          return;
        }
        // The server answers stop only once the backend confirmed every frame (protocol.md 1.3).
        this.committed = Math.max(this.committed, message.last_seq);
        break;
      default:
        break; // `error` precedes a close, which decides
    }
  }

  private onClose(ws: WebSocket, code: number, reason: string, refusedRetryMs: number | undefined): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    if (this.finished) return;
    if (refusedRetryMs === undefined) this.count(String(code));
    if (code === 1000 && this.stoppedAt !== undefined) {
      this.finish('done');
      return;
    }
    if (refusedRetryMs === undefined && !RESUMABLE.has(code)) {
      this.fail(`closed with ${code} (${reason || 'no reason'}), which is not a close to resume after`);
      return;
    }
    this.failures++;
    const base = refusedRetryMs ?? RESUME_BASE_MS[code];
    const backoff = base === 0 ? 0 : Math.min(MAX_BACKOFF_MS, base * 2 ** Math.min(this.failures - 1, 5));
    const delay = backoff + this.options.random.int(0, 100); // jitter: a roll's clients do not all come back at once
    this.state = 'waiting';
    this.retryTimer = setTimeout(() => {
      if (!this.finished) this.connect();
    }, delay);
  }

  private pump(): void {
    const ws = this.ws;
    if (this.state !== 'streaming' || !ws) return;
    while (this.next <= this.due && ws.bufferedAmount < MAX_BUFFERED_BYTES) {
      ws.send(chaosFrame(this.options.index, this.next), { binary: true });
      this.writes++;
      this.highestSent = Math.max(this.highestSent, this.next);
      this.next++;
    }
    if (this.next <= this.due) {
      // The server stopped reading (back-pressure): try again shortly, even when no new frame falls due.
      this.pumpTimer ??= setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, 20);
      return;
    }
    if (this.stopWanted) {
      this.state = 'stopping';
      ws.send(JSON.stringify({ type: 'stop' }));
    }
  }

  private count(what: string): void {
    this.closes.set(what, (this.closes.get(what) ?? 0) + 1);
  }

  private fail(why: string): void {
    this.failure ??= why;
    this.giveUp();
  }

  private finish(state: 'done' | 'gave_up'): void {
    this.state = state;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pumpTimer);
    for (const resolve of this.finishedWaiters.splice(0)) resolve();
  }
}
