/**
 * One Exotel or Twilio stream of the load, played as the provider plays it
 * (docs/telephony.md): `connected`, `start`, one `media` event per frame
 * (base64 payload, chunk = seq) on the same clock as native streams, `stop`,
 * then the server's close. The server sends a telephony stream nothing (no
 * ack, no committed), so only sends are counted here and loss is found by
 * --verify; and since a provider never resumes a stream, any close other than
 * the server's 1000 after `stop` fails the stream.
 */
import type WebSocket from 'ws';
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
import type { StreamResult, StreamSettings } from './load-stream';
import { SocketStream, type SocketClose } from './socket-stream';

/** Exotel's account id in `start`, for deployments that map tenants by account. */
const ACCOUNT_SID = 'loadgen-account';

export class TelephonyStream extends SocketStream {
  private readonly ids: CallIds;
  private readonly shape: MessageShape;

  constructor(
    index: number,
    interactionId: string,
    private readonly provider: TelephonyProvider,
    settings: StreamSettings,
  ) {
    super(index, interactionId, settings);
    // The call id is the records' interaction_id; the stream id their sequence space.
    this.ids = { callSid: interactionId, streamSid: `${interactionId}-stream`, accountSid: ACCOUNT_SID };
    this.shape = defaultShape(provider);
  }

  keepalive(): void {
    // Providers send no keepalive: an idle telephony stream lasts IDLE_TIMEOUT_MS on the server.
  }

  protected confirmed(): Pick<StreamResult, 'acked' | 'committed'> {
    return { acked: null, committed: null };
  }

  protected onOpen(): void {
    this.started();
    this.sendEvent(connectedEvent(this.provider));
    this.sendEvent(
      startEvent(this.provider, this.ids, {
        sampleRate: this.provider === 'exotel' ? this.settings.media.sample_rate : undefined,
      }),
    );
    this.pump();
  }

  protected onText(): void {
    // The server sends telephony nothing.
  }

  protected onSocketClose(close: SocketClose): void {
    if (close.refused) return this.fail(`upgrade refused with ${close.refused.status}`);
    if (!close.opened) return this.fail('the connection got no answer');
    if (close.code === 1000 && this.state === 'stopping') this.finish('done');
    else this.fail(`closed with ${close.code} (${close.reason || 'no reason'}); a telephony stream is never resumed`);
  }

  protected sendFrame(_ws: WebSocket, seq: number): void {
    const payload = this.settings.frames.frame(this.index, seq);
    this.sendEvent(mediaEvent(this.provider, this.ids.streamSid, seq, payload, { frameMs: this.settings.frameMs }));
  }

  protected sendStop(): void {
    this.sendEvent(stopEvent(this.provider, this.ids));
  }

  private sendEvent(body: Record<string, unknown>): void {
    this.ws?.send(JSON.stringify(shapeMessage(body, this.shape)));
  }
}
