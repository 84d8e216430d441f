/**
 * The client's state machine. One stream (one interaction) over as many connections as
 * it takes: connect with a fresh token, `start` with first_seq = last committed + 1,
 * send every frame held from there, and on a resumable close wait (backoff) and do it
 * again, until `stop` is answered or the stream ends for good.
 *
 *   idle --start()--> connecting --started--> streaming --stop() ... stopped--> closed
 *                        ^    \                  |
 *                        |     `-- resumable close (or timeout) --> waiting --timer--'
 *                        `---------------------------------------------'
 *   any state --fatal close / close() / abort / attempts exhausted--> closed
 */
import { BackoffPolicy } from './backoff-policy.js';
import type { EventOf, IngestClientEvent, IngestClientEventType, Listener } from './client-events.js';
import { checkOptions, DEFAULTS, type IngestClientOptions } from './client-options.js';
import { judgeClose, type ServerError } from './close-policy.js';
import { IngestClientError } from './errors.js';
import { EventChannel } from './event-channel.js';
import { FrameWindow } from './frame-window.js';
import {
  KEEPALIVE_MESSAGE,
  parseServerMessage,
  startMessage,
  STOP_MESSAGE,
  type ServerMessage,
} from './protocol-messages.js';
import type { Connection, Transport, TransportClose } from './transport.js';
import { globalWebSocket, webSocketTransport } from './websocket-transport.js';

export type FrameData = Uint8Array | ArrayBuffer | ArrayBufferView;

export interface StartResult {
  readonly streamId: string;
  readonly nextSeq: number;
}

export interface StopResult {
  /** The last frame's seq (the server's `stopped.last_seq`). */
  readonly lastSeq: number;
  /** Frames in the whole stream, over all its connections (lastSeq - firstSeq + 1). */
  readonly frames: number;
}

export interface ClientStats {
  /** Highest seq the server said it received (`ack`). */
  readonly acked: number;
  /** Highest seq the server said the backend holds (`committed`). */
  readonly committed: number;
  /** Seq of the newest frame taken by `send`. */
  readonly lastSeq: number;
  readonly uncommittedFrames: number;
  readonly uncommittedBytes: number;
  /** Successful resumptions: outages survived (one per `reconnected` event). */
  readonly reconnects: number;
  /** Reconnect attempts made, failed ones included (one per `reconnecting` event). */
  readonly reconnectAttempts: number;
}

type Phase = 'idle' | 'connecting' | 'streaming' | 'waiting' | 'closed';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

/** The state of the current connection. */
interface Link {
  readonly connection: Connection;
  readonly firstSeq: number;
  started: boolean;
  /** When `started` came (Date.now()). */
  startedAt: number;
  /** A frame sent on this connection was committed: the path to the backend works. */
  committedHere: boolean;
  /** Highest seq sent on this connection. */
  sentThrough: number;
  /** Something went out on this connection since the last keepalive tick. */
  sentSinceTick: boolean;
  stopSent: boolean;
  serverError: ServerError | undefined;
}

/**
 * A connection that lasted this long after `started` proved the service healthy even if nothing
 * was committed on it (a silent stream): its loss starts a new outage, with the attempts counted from 1.
 */
const HEALTHY_AFTER_MS = 10_000;

export class IngestClient {
  private readonly channel = new EventChannel();
  private readonly window: FrameWindow;
  private readonly backoff: BackoffPolicy;
  private readonly transport: Transport;
  private readonly firstSeq: number;
  private readonly metadata: Record<string, unknown> | undefined;
  private readonly maxFrameBytes: number;
  private phase: Phase = 'idle';
  private link: Link | undefined;
  private connections = 0;
  /**
   * Attempts in the current outage: back to 0 only once a connection proved healthy (a commit of a frame
   * sent on it, or HEALTHY_AFTER_MS open), so that a service that answers `started` and then fails
   * every time (1011, 1013) runs into backoff.maxAttempts.
   */
  private outageAttempts = 0;
  private reconnectAttempts = 0;
  private resumptions = 0;
  /** Highest seq ever sent, on any connection (to count what a resume sends again). */
  private everSent: number;
  private acked: number;
  private committed: number;
  private stopRequested = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Runs while a connection is started: the keepalive ticks of the current link. */
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  private starting: Deferred<StartResult> | undefined;
  private stopping: Deferred<StopResult> | undefined;
  private stopResult: StopResult | undefined;
  private closeError: IngestClientError | undefined;
  private readonly onAbort = (): void =>
    this.finish(1000, 'aborted', new IngestClientError('aborted', 'the stream was aborted by its AbortSignal'));

  constructor(
    private readonly options: IngestClientOptions,
    transport?: Transport,
  ) {
    ({ metadata: this.metadata, maxFrameBytes: this.maxFrameBytes } = checkOptions(options));
    this.firstSeq = options.firstSeq ?? DEFAULTS.firstSeq;
    this.window = new FrameWindow(this.firstSeq, options.maxUncommittedBytes ?? DEFAULTS.maxUncommittedBytes);
    this.backoff = new BackoffPolicy(options.backoff);
    this.everSent = this.acked = this.committed = this.firstSeq - 1;
    const WebSocketImpl = options.WebSocket ?? globalWebSocket();
    if (!transport && !WebSocketImpl) {
      throw new TypeError('no WebSocket in this runtime: pass options.WebSocket (or use the Node entry with ws)');
    }
    this.transport = transport ?? webSocketTransport(WebSocketImpl!);
  }

  get stats(): ClientStats {
    return {
      acked: this.acked,
      committed: this.committed,
      lastSeq: this.window.lastSeq,
      uncommittedFrames: this.window.count,
      uncommittedBytes: this.window.bytes,
      reconnects: this.resumptions,
      reconnectAttempts: this.reconnectAttempts,
    };
  }

  on<T extends IngestClientEventType>(type: T, listener: Listener<T>): this {
    this.channel.on(type, listener);
    return this;
  }

  off<T extends IngestClientEventType>(type: T, listener: Listener<T>): this {
    this.channel.off(type, listener);
    return this;
  }

  /** The events from now on, in order, as one async iterator; it ends after `closed`. */
  events(): AsyncIterableIterator<IngestClientEvent> {
    return this.channel.iterate();
  }

  /** Connects and starts the stream; resolves once the server answered `started`. */
  start(): Promise<StartResult> {
    if (this.starting) return this.starting.promise;
    this.starting = deferred();
    if (this.phase === 'closed') {
      this.starting.reject(this.closedError());
    } else if (this.options.signal?.aborted) {
      this.onAbort();
    } else {
      this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
      this.connect();
    }
    return this.starting.promise;
  }

  /**
   * Takes a frame (copied: the caller may reuse its buffer) and resolves with its seq once
   * it is held, and sent if a connection is open. At the cap it waits or rejects (`whenFull`);
   * waiting sends may hold at most maxUncommittedBytes more, past that they reject `buffer_full`.
   */
  async send(frame: FrameData): Promise<number> {
    if (this.phase === 'closed') throw this.closedError();
    if (this.stopRequested) throw new IngestClientError('closed', 'send() after stop()');
    const bytes = copyBytes(frame);
    if (bytes.byteLength > this.maxFrameBytes) {
      throw new IngestClientError(
        'frame_too_large',
        `a ${bytes.byteLength}-byte frame is over maxFrameBytes (${this.maxFrameBytes}); it was not sent`,
      );
    }
    const whenFull = this.options.whenFull ?? DEFAULTS.whenFull;
    const seq = whenFull === 'reject' ? this.window.push(bytes) : await this.window.pushWhenRoom(bytes);
    this.pump();
    return seq;
  }

  /** Ends the stream: resolves once every frame is committed and the server answered `stopped`. */
  stop(): Promise<StopResult> {
    if (this.stopping) return this.stopping.promise;
    this.stopping = deferred();
    if (this.stopResult) this.stopping.resolve(this.stopResult);
    else if (this.phase === 'closed') this.stopping.reject(this.closedError());
    else if (this.phase === 'idle') this.stopping.reject(new IngestClientError('closed', 'stop() before start()'));
    else {
      this.stopRequested = true;
      this.pump();
    }
    return this.stopping.promise;
  }

  /** Gives up now (idempotent): closes the connection, rejects pending calls with `closed`. */
  close(): void {
    this.finish(1000, 'closed by the client', new IngestClientError('closed', 'the client was closed'));
  }

  /** Opens the next connection; whatever goes wrong in it ends up in `lost` or `finish`, never unhandled. */
  private connect(): void {
    this.openLink().catch(() =>
      this.finish(1006, 'client failure', new IngestClientError('protocol', 'the client failed while connecting')),
    );
  }

  private async openLink(): Promise<void> {
    this.phase = 'connecting';
    this.connections++;
    const attempt = this.connections;
    try {
      await this.transport.ready();
    } catch (err) {
      if (this.phase !== 'connecting' || this.connections !== attempt) return;
      const error =
        err instanceof IngestClientError ? err : new IngestClientError('refused', 'the transport cannot connect');
      return this.finish(1006, 'no transport', error);
    }
    if (this.phase !== 'connecting' || this.connections !== attempt) return;
    let token: string;
    try {
      // Through a promise even for a string: connect never reports before start() has returned.
      const source = this.options.token;
      token = await Promise.resolve().then(() => (typeof source === 'function' ? source() : source));
    } catch (err) {
      if (this.phase !== 'connecting' || this.connections !== attempt) return;
      this.lost({ code: 1006, reason: `the token provider failed: ${(err as Error).message}` });
      return;
    }
    if (this.phase !== 'connecting' || this.connections !== attempt) return;
    const firstSeq = this.window.firstSeq;
    const link: Link = {
      connection: undefined as unknown as Connection,
      firstSeq,
      started: false,
      startedAt: 0,
      committedHere: false,
      sentThrough: firstSeq - 1,
      sentSinceTick: false,
      stopSent: false,
      serverError: undefined,
    };
    this.link = link;
    // Armed first: a transport that reports a close at once must find its reconnect timer left alone.
    this.armTimer(this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, () => {
      if (this.link !== link || link.started) return;
      link.connection.close(4000, 'no started in time');
      this.lost({ code: 1006, reason: 'the server did not answer start within connectTimeoutMs' });
    });
    let connection: Connection;
    try {
      connection = this.transport.open(this.options.url, token, {
        onOpen: () => {
          if (this.link !== link) return;
          const { interactionId, media } = this.options;
          link.connection.send(startMessage({ interactionId, media, metadata: this.metadata, firstSeq }));
        },
        onMessage: (text) => {
          if (this.link === link) this.receive(link, text);
        },
        onClose: (close) => {
          if (this.link === link) this.lost(close);
        },
      });
    } catch (err) {
      // A malformed URL or a token a subprotocol/header cannot carry: retrying cannot help. The thrown
      // message is left out on purpose: runtimes quote the offending subprotocol or header, i.e. the token.
      if (this.link !== link) return;
      this.link = undefined;
      const name = err instanceof Error ? err.name : typeof err;
      return this.finish(
        1006,
        'connection refused by the WebSocket',
        new IngestClientError(
          'refused',
          `the WebSocket implementation would not open a connection (${name}): check the url, and that the token ` +
            'holds only characters a subprotocol or header can carry',
        ),
      );
    }
    (link as { connection: Connection }).connection = connection;
  }

  private receive(link: Link, text: string): void {
    let message: ServerMessage;
    try {
      message = parseServerMessage(text);
    } catch (err) {
      link.connection.close(1002, 'unexpected message');
      this.finish(1002, 'unexpected message', err as IngestClientError);
      return;
    }
    switch (message.type) {
      case 'started':
        return this.started(link, message.streamId, message.nextSeq);
      case 'ack':
        this.acked = Math.max(this.acked, message.seq);
        return this.channel.emit({ type: 'ack', seq: message.seq });
      case 'committed':
        this.committed = Math.max(this.committed, message.seq);
        if (message.seq >= link.firstSeq) link.committedHere = true;
        this.window.commitThrough(message.seq);
        this.channel.emit({ type: 'committed', seq: message.seq });
        return this.pump();
      case 'stopped':
        return this.stopped(link, message.lastSeq);
      case 'error':
        link.serverError = { code: message.code, message: message.message };
        return;
      case 'other':
        return;
    }
  }

  private started(link: Link, streamId: string, nextSeq: number): void {
    if (nextSeq !== link.firstSeq) {
      const err = new IngestClientError('protocol', `started.next_seq is ${nextSeq}, asked for ${link.firstSeq}`);
      link.connection.close(1000, 'unexpected next_seq');
      return this.finish(1002, 'unexpected next_seq', err);
    }
    this.clearTimer();
    link.started = true;
    link.startedAt = Date.now();
    this.phase = 'streaming';
    const resumed = this.connections > 1;
    const attempt = this.outageAttempts;
    const resent = Math.max(0, Math.min(this.everSent, this.window.lastSeq) - nextSeq + 1);
    this.channel.emit({ type: 'started', streamId, nextSeq, resumed });
    if (resumed) {
      this.resumptions++;
      this.channel.emit({ type: 'reconnected', attempt, nextSeq, resent });
    }
    this.starting?.resolve({ streamId, nextSeq });
    this.pump();
    if (this.link === link) this.startKeepalive(link);
  }

  /** Every keepaliveIntervalMs in which nothing went out, a keepalive (sends blocked at the cap send nothing). */
  private startKeepalive(link: Link): void {
    this.stopKeepalive();
    const intervalMs = this.options.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs;
    if (intervalMs === 0) return;
    this.keepaliveTimer = setInterval(() => {
      if (this.link !== link) return this.stopKeepalive();
      if (!link.sentSinceTick) link.connection.send(KEEPALIVE_MESSAGE);
      link.sentSinceTick = false;
    }, intervalMs);
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  /** Sends what the current connection has not had yet, then `stop` once asked and nothing waits. */
  private pump(): void {
    const link = this.link;
    if (!link?.started || this.phase !== 'streaming') return;
    while (link.sentThrough < this.window.lastSeq) {
      const frame = this.window.frame(link.sentThrough + 1);
      if (!frame) break;
      link.connection.send(frame);
      link.sentThrough++;
      link.sentSinceTick = true;
    }
    this.everSent = Math.max(this.everSent, link.sentThrough);
    if (this.stopRequested && !link.stopSent && this.window.waiting === 0) {
      link.stopSent = true;
      link.connection.send(STOP_MESSAGE);
    }
  }

  private stopped(link: Link, lastSeq: number): void {
    if (!link.stopSent) {
      link.connection.close(1000, 'unexpected stopped');
      return this.finish(1002, 'unexpected stopped', new IngestClientError('protocol', 'stopped without a stop'));
    }
    if (lastSeq !== this.window.lastSeq || this.window.count > 0) {
      // The service says it is done with frames this client still holds as not committed (or never sent):
      // resolving stop() would report a stream as delivered that is not.
      const err = new IngestClientError(
        'protocol',
        `stopped.last_seq is ${lastSeq} with ${this.window.count} frames uncommitted; the last frame sent is ` +
          `${this.window.lastSeq}`,
      );
      link.connection.close(1000, 'unexpected stopped');
      return this.finish(1002, 'unexpected stopped', err);
    }
    this.stopResult = { lastSeq, frames: lastSeq - this.firstSeq + 1 };
    this.stopping?.resolve(this.stopResult);
    this.finish(1000, 'stream stopped', undefined);
  }

  /** The current connection is gone (closed, refused, failed, or timed out): resume or give up. */
  private lost(close: TransportClose): void {
    const link = this.link;
    this.link = undefined;
    this.clearTimer();
    this.stopKeepalive();
    if (this.phase === 'closed') return;
    const verdict = judgeClose(close, {
      serverError: link?.serverError,
      backendDelayMs: this.backoff.backendDelayMs,
      holding: this.window.count > 0 || this.window.waiting > 0,
    });
    if (!verdict.resume) return this.finish(close.code, close.reason, verdict.error);
    if (link?.started && (link.committedHere || Date.now() - link.startedAt >= HEALTHY_AFTER_MS)) {
      this.outageAttempts = 0;
    }
    this.outageAttempts++;
    if (!this.backoff.allows(this.outageAttempts)) {
      const err = new IngestClientError(
        'reconnect_exhausted',
        `gave up after ${this.outageAttempts - 1} reconnect attempts (last ` +
          `${close.status !== undefined ? `HTTP ${close.status}` : `close ${close.code} ${close.reason}`})`,
        { closeCode: close.code, ...(close.status !== undefined ? { status: close.status } : {}) },
      );
      return this.finish(close.code, close.reason, err);
    }
    // A floor (Retry-After, backendDelayMs) gets the jittered backoff on top: the clients one draining
    // instance refused with the same Retry-After must not all come back in the same instant.
    const delayMs =
      verdict.immediate && this.outageAttempts === 1
        ? 0
        : verdict.minDelayMs + this.backoff.delayMs(this.outageAttempts);
    this.reconnectAttempts++;
    this.phase = 'waiting';
    this.channel.emit({
      type: 'reconnecting',
      attempt: this.outageAttempts,
      delayMs,
      code: close.status ?? close.code,
      reason: close.reason,
    });
    if (this.phase === 'waiting') this.armTimer(delayMs, () => this.connect());
  }

  private finish(code: number, reason: string, error: IngestClientError | undefined): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.closeError = error;
    this.clearTimer();
    this.stopKeepalive();
    const link = this.link;
    this.link = undefined;
    link?.connection.close(1000, reason.slice(0, 120));
    this.options.signal?.removeEventListener('abort', this.onAbort);
    const err = error ?? new IngestClientError('closed', 'the stream has ended');
    this.window.rejectWaiters(err);
    this.starting?.reject(err);
    if (!this.stopResult) this.stopping?.reject(err);
    const event: EventOf<'closed'> = error ? { type: 'closed', code, reason, error } : { type: 'closed', code, reason };
    this.channel.emit(event);
  }

  private closedError(): IngestClientError {
    return this.closeError ?? new IngestClientError('closed', 'the stream has ended');
  }

  private armTimer(ms: number, fire: () => void): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      fire();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function copyBytes(frame: FrameData): Uint8Array {
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame.slice(0));
  if (ArrayBuffer.isView(frame)) {
    return new Uint8Array(frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength));
  }
  throw new TypeError('a frame must be a Uint8Array, an ArrayBuffer or an ArrayBufferView');
}
