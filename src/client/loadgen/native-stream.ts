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
import type WebSocket from 'ws';
import { SendTimes, type StreamResult, type StreamSettings } from './load-stream';
import { SocketStream, type SocketClose } from './socket-stream';

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

interface ServerMessage {
  readonly type?: string;
  readonly seq?: number;
  readonly next_seq?: number;
  readonly last_seq?: number;
  readonly code?: string;
}

export class NativeStream extends SocketStream {
  private acked = 0;
  private committed = 0;
  private stoppedAt: number | undefined;
  private failuresInRow = 0;
  private readonly sendTimes = new SendTimes();

  constructor(
    index: number,
    interactionId: string,
    settings: StreamSettings,
    /** When frame 1 falls due (epoch ms): a frame whose send time has left the ring is measured from its due time. */
    private readonly startAt: number,
  ) {
    super(index, interactionId, settings);
  }

  keepalive(): void {
    if (this.state === 'streaming') this.ws?.send('{"type":"keepalive"}');
  }

  protected confirmed(): Pick<StreamResult, 'acked' | 'committed'> {
    return { acked: this.acked, committed: this.committed };
  }

  protected onOpen(ws: WebSocket): void {
    this.state = 'starting';
    ws.send(
      JSON.stringify({
        type: 'start',
        interaction_id: this.interactionId,
        media: this.settings.media,
        first_seq: this.committed + 1,
      }),
    );
  }

  protected onText(data: Buffer): void {
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
        this.started();
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

  protected onSocketClose(close: SocketClose): void {
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
      delay = this.backoff(RESUME_BASE_MS[1006]);
    } else {
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
    this.reconnectAfter(delay);
  }

  private backoff(base: number): number {
    this.failuresInRow++;
    return resumeDelayMs(base, this.failuresInRow, Math.random());
  }

  private lastProblem(close: SocketClose): string {
    if (close.refused) return `upgrade refused with ${close.refused.status}`;
    return close.opened ? `closed with ${close.code}` : 'no answer';
  }

  /** At --max-rate no more than the ack window ahead (until `stop`, which waits for nothing more). */
  protected override sendLimit(): number {
    return this.settings.maxRate && !this.stopWanted ? this.acked + this.settings.windowFrames : this.due;
  }

  protected sendFrame(ws: WebSocket, seq: number, now: number): void {
    ws.send(this.settings.frames.frame(this.index, seq), { binary: true });
    this.sendTimes.record(seq, now);
  }

  protected sendStop(ws: WebSocket): void {
    ws.send('{"type":"stop"}');
  }
}
