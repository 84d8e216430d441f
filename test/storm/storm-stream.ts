/**
 * One stream of the reconnect storm: a lean native client (no message log to
 * scan) that sends a batch of ACK_INTERVAL frames every `paceMs`, times each
 * batch's ack, and, when its connection drops, reconnects at once and resumes
 * from last committed + 1 as protocol.md 1.4 asks, resending what the server
 * had not committed. Every latency sample carries the time its batch went
 * out, so that the storm can compare before, during and after.
 */
import WebSocket from 'ws';
import { frameBytes } from '../support/ingest-server';
import type { SentStream } from '../support/stream-check';

export interface StormStreamOptions {
  readonly url: string;
  readonly token: string;
  readonly index: number;
  readonly ackInterval: number;
  readonly paceMs: number;
  readonly frameSize: number;
  /** A connect attempt not answered with `started` within this is abandoned and retried. */
  readonly connectTimeoutMs: number;
}

export interface AckSample {
  /** When the batch's last frame was sent (ms, performance.now()). */
  readonly at: number;
  readonly latencyMs: number;
}

export class StormStream {
  readonly interactionId: string;
  readonly frames: Buffer[] = [];
  readonly samples: AckSample[] = [];
  committed = 0;
  /** performance.now() of the last `started`, and of the last handshake completed. */
  startedAt = 0;
  openedAt = 0;
  connections = 0;
  failedConnects = 0;
  private ws: WebSocket | undefined;
  private pending: { seq: number; sentAt: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping: ((result: { lastSeq: number; code: number }) => void) | undefined;
  private stoppedLastSeq = -1;
  private closed = false;

  constructor(private readonly options: StormStreamOptions) {
    this.interactionId = `storm-${process.pid}-${options.index}`;
  }

  get sent(): SentStream {
    return { interactionId: this.interactionId, tenantId: 'tenant-a', frames: this.frames, firstSeq: 1 };
  }

  /** Connects (and resumes), resolving at `started`. */
  connect(): Promise<void> {
    return new Promise((resolve) => {
      const firstSeq = this.committed + 1;
      const ws = new WebSocket(this.options.url, {
        headers: { Authorization: `Bearer ${this.options.token}` },
        perMessageDeflate: false,
      });
      this.ws = ws;
      this.connections++;
      let started = false;
      const giveUp = setTimeout(() => {
        this.failedConnects++;
        ws.terminate();
      }, this.options.connectTimeoutMs);
      ws.on('error', () => undefined); // the close decides
      ws.once('open', () => {
        this.openedAt = performance.now();
        ws.send(JSON.stringify({ type: 'start', interaction_id: this.interactionId, first_seq: firstSeq }));
      });
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as { type: string; seq?: number; last_seq?: number };
        if (message.type === 'started') {
          clearTimeout(giveUp);
          started = true;
          this.startedAt = performance.now();
          this.pending = undefined;
          // Resend what the server never confirmed, topped up with new frames to a whole ack
          // interval (acks count from this connection's first frame), then carry on at the pace.
          const resend = this.frames.length - firstSeq + 1;
          if (resend > 0) {
            for (let seq = firstSeq; seq <= this.frames.length; seq++) ws.send(this.frames[seq - 1]);
            this.sendNew(
              ws,
              (this.options.ackInterval - (resend % this.options.ackInterval)) % this.options.ackInterval,
            );
            this.pending = { seq: this.frames.length, sentAt: performance.now() };
          }
          resolve();
          this.schedule();
        } else if (message.type === 'ack' && this.pending && message.seq! >= this.pending.seq) {
          this.samples.push({ at: this.pending.sentAt, latencyMs: performance.now() - this.pending.sentAt });
          this.pending = undefined;
        } else if (message.type === 'committed') {
          this.committed = Math.max(this.committed, message.seq!);
        } else if (message.type === 'stopped') {
          this.stoppedLastSeq = message.last_seq!;
        }
      });
      ws.once('close', (code) => {
        clearTimeout(giveUp);
        clearTimeout(this.timer);
        if (this.ws !== ws) return;
        if (this.stopping && code === 1000) return this.stopping({ lastSeq: this.stoppedLastSeq, code });
        if (this.closed) return;
        // Dropped (or never answered): resume at once from last committed + 1.
        void this.connect().then(started ? undefined : resolve);
      });
    });
  }

  /** Drops the connection the hard way, as a network failure would. */
  drop(): void {
    this.ws?.terminate();
  }

  /** Sends stop; resolves with stopped.last_seq and the close code. */
  stop(): Promise<{ lastSeq: number; code: number }> {
    clearTimeout(this.timer);
    return new Promise((resolve) => {
      this.stopping = resolve;
      this.ws?.send('{"type":"stop"}');
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.terminate();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.sendBatch(), this.options.paceMs);
  }

  private sendBatch(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.stopping) return;
    // One batch in flight: a slow ack delays the next batch, as a real client's flow control would.
    if (!this.pending) {
      this.sendNew(ws, this.options.ackInterval);
      this.pending = { seq: this.frames.length, sentAt: performance.now() };
    }
    this.schedule();
  }

  private sendNew(ws: WebSocket, count: number): void {
    for (let i = 0; i < count; i++) {
      const seq = this.frames.length + 1;
      const frame = frameBytes(this.options.index, seq, this.options.frameSize);
      this.frames.push(frame);
      ws.send(frame);
    }
  }
}
