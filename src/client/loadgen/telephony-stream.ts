/**
 * One Exotel or Twilio stream of the load, played as the provider plays it
 * (docs/telephony.md): `connected`, `start`, one `media` event per frame
 * (base64 payload, chunk = seq) on the same clock as native streams, `stop`,
 * then the server's close. The server sends a telephony stream nothing (no
 * ack, no committed), so only sends are counted here and loss is found by
 * --verify; and since a provider never resumes a stream, any close other than
 * the server's 1000 after `stop` fails the stream.
 */
import WebSocket from 'ws';
import {
  connectedEvent,
  defaultShape,
  mediaEvent,
  shapeMessage,
  startEvent,
  stopEvent,
  type CallIds,
  type MessageShape,
  type TelephonyProvider,
} from '../telephony-messages';
import { bump, type LoadStream, type StreamResult, type StreamSettings } from './load-stream';

const CONNECT_TIMEOUT_MS = 10_000;
const MAX_BUFFERED_BYTES = 1 << 20;
/** Exotel's account id in `start`, for deployments that map tenants by account. */
const ACCOUNT_SID = 'loadgen-account';

type State = 'idle' | 'connecting' | 'streaming' | 'stopping' | 'done' | 'gave_up' | 'failed';

export class TelephonyStream implements LoadStream {
  private due = 0;
  private next = 1;
  private readonly closes: Record<string, number> = {};
  private connections = 0;
  private failure: string | undefined;
  private state: State = 'idle';
  private everStarted = false;
  private open = false;
  private ws: WebSocket | undefined;
  private stopWanted = false;
  private pumpTimer: NodeJS.Timeout | undefined;
  private readonly ids: CallIds;
  private readonly shape: MessageShape;
  private readonly finishedWaiters: Array<() => void> = [];

  constructor(
    readonly index: number,
    readonly interactionId: string,
    private readonly provider: TelephonyProvider,
    private readonly settings: StreamSettings,
  ) {
    // The call id is the records' interaction_id; the stream id their sequence space.
    this.ids = { callSid: interactionId, streamSid: `${interactionId}-stream`, accountSid: ACCOUNT_SID };
    this.shape = defaultShape(provider);
  }

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
    // Providers send no keepalive: an idle telephony stream lasts IDLE_TIMEOUT_MS on the server.
  }

  stop(): void {
    if (this.stopWanted || this.finished) return;
    this.stopWanted = true;
    if (this.settings.maxRate) this.due = this.next - 1;
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
      sent: this.next - 1,
      written: this.next - 1,
      acked: null,
      committed: null,
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
    let refused: number | undefined;
    ws.on('open', () => {
      opened = true;
      this.everStarted = true;
      this.open = true;
      this.settings.tally.streamsStarted++;
      this.settings.tally.streamsOpen++;
      this.state = 'streaming';
      this.sendEvent(connectedEvent(this.provider));
      this.sendEvent(
        startEvent(this.provider, this.ids, {
          sampleRate: this.provider === 'exotel' ? this.settings.media.sample_rate : undefined,
        }),
      );
      this.pump();
    });
    ws.on('unexpected-response', (_req, res) => {
      refused = res.statusCode ?? 0;
      this.settings.tally.refusal(refused);
      res.resume();
      ws.terminate();
    });
    ws.on('message', () => undefined); // the server sends telephony nothing
    ws.on('error', () => undefined); // surfaced through 'close'
    ws.on('close', (code, reason) => {
      if (ws !== this.ws) return;
      this.ws = undefined;
      clearTimeout(this.pumpTimer);
      if (this.open) this.settings.tally.streamsOpen--;
      this.open = false;
      if (this.finished) return;
      if (refused !== undefined) return this.fail(`upgrade refused with ${refused}`);
      if (!opened) {
        this.settings.tally.failedConnections++;
        return this.fail('the connection got no answer');
      }
      bump(this.closes, String(code));
      this.settings.tally.close(String(code));
      if (code === 1000 && this.state === 'stopping') this.finish('done');
      else this.fail(`closed with ${code} (${reason.toString() || 'no reason'}); a telephony stream is never resumed`);
    });
  }

  private sendEvent(body: Record<string, unknown>): void {
    this.ws?.send(JSON.stringify(shapeMessage(body, this.shape)));
  }

  private pump(): void {
    const ws = this.ws;
    if (this.state !== 'streaming' || !ws) return;
    const now = this.settings.clock();
    while (this.next <= this.due && ws.bufferedAmount < MAX_BUFFERED_BYTES) {
      const seq = this.next++;
      const payload = this.settings.frames.frame(this.index, seq);
      this.sendEvent(mediaEvent(this.provider, this.ids.streamSid, seq, payload, { frameMs: this.settings.frameMs }));
      this.settings.tally.sent(now, true);
    }
    if (this.next <= this.due) {
      this.pumpTimer ??= setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, 20);
      return;
    }
    if (this.stopWanted) {
      this.state = 'stopping';
      this.sendEvent(stopEvent(this.provider, this.ids));
    }
  }

  private fail(why: string): void {
    this.failure ??= why;
    this.finish('failed');
    this.ws?.terminate();
  }

  private finish(state: 'done' | 'gave_up' | 'failed'): void {
    this.state = state;
    clearTimeout(this.pumpTimer);
    for (const resolve of this.finishedWaiters.splice(0)) resolve();
  }
}
