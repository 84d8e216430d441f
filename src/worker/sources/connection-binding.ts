/**
 * The wiring every source dialect needs on its WebSocket, written once so the
 * dialects cannot drift apart: the start timer, ws's refusal of an oversized
 * message, error logging, the close that reaches every session on the socket,
 * and the catch-all that turns a bug in message handling into an
 * internal_error close of this connection instead of a crashed worker, and the
 * hooks run once the server closes (its close frame sent, or the socket
 * terminated) or else the socket closes: a tenant lease is given back there,
 * not at the socket's final close, which a client reconnecting at once could
 * otherwise find still counted against it.
 * A dialect (native-connection.ts, telephony-connection.ts) supplies only how
 * it reads one message.
 */
import type WebSocket from 'ws';
import type { Log } from '../../shared/process/bound-log';
import { IngestError } from '../../shared/errors';
import type { StreamSession } from '../stream/stream-session';
import type { StreamTransport } from '../stream/stream-transport';

export interface ConnectionBindingOptions {
  readonly startTimeoutMs: number;
  /** The frame_too_large reason when ws refuses a message over its maxPayload (each dialect words it). */
  readonly oversizeReason: string;
  /** What the catch-all's log line says it was handling: 'client message', 'telephony message'. */
  readonly messageKind: string;
}

/** A dialect's reading of one message. Throwing an IngestError ends the connection's streams with it. */
export interface MessageHandler {
  onMessage(data: Buffer, isBinary: boolean): void;
}

type WsError = Error & { code?: string };

export class ConnectionBinding {
  /** One transport for every session on this socket: it holds no state of its own. */
  readonly transport: StreamTransport;
  /** The first one waits for `start`; telephony adds one per further track. */
  private readonly sessions: StreamSession[] = [];
  private startTimer: NodeJS.Timeout | undefined;
  private startCheck: NodeJS.Immediate | undefined;
  private listening = false;
  /** Run once when the server closes or the socket closes; undefined once they ran. */
  private closingHooks: (() => void)[] | undefined = [];

  constructor(
    private readonly ws: WebSocket,
    private readonly handler: MessageHandler,
    private readonly log: Log,
    private readonly options: ConnectionBindingOptions,
  ) {
    this.transport = new WsTransport(ws, this);
  }

  /**
   * Runs `hook` when the server sends its close frame or terminates the socket,
   * or when the socket closes, whichever comes first; at once when one has.
   */
  onClosing(hook: () => void): void {
    if (this.closingHooks) this.closingHooks.push(hook);
    else hook();
  }

  /** @internal The server closed or terminated the socket, or the socket closed: runs the hooks once. */
  closing(): void {
    const hooks = this.closingHooks;
    this.closingHooks = undefined;
    for (const hook of hooks ?? []) hook();
  }

  /** Whether the server has closed the socket or the socket has closed. */
  get closed(): boolean {
    return this.closingHooks === undefined;
  }

  /** A session on this socket: it hears the socket's pongs, errors and close. */
  add(session: StreamSession): void {
    this.sessions.push(session);
  }

  /** Starts the start timer and takes the socket's events; the socket's close releases both. */
  listen(): void {
    if (this.listening) return;
    this.listening = true;
    (this.ws as BoundSocket)[BINDING] = this;
    this.startTimer = setTimeout(onStartTimeout, this.options.startTimeoutMs, this);
    this.ws.on('message', onMessage);
    this.ws.on('pong', onPong);
    this.ws.on('error', onError);
    this.ws.on('close', onClose);
  }

  /** The start message arrived: it is no longer waited for. */
  started(): void {
    clearTimeout(this.startTimer);
    this.startTimer = undefined;
    clearImmediate(this.startCheck);
    this.startCheck = undefined;
  }

  /** Releases the timer and the socket's listeners. Idempotent; ws emits nothing after its close. */
  close(): void {
    this.started();
    this.ws.off('message', onMessage);
    this.ws.off('pong', onPong);
    this.ws.off('error', onError);
    this.ws.off('close', onClose);
  }

  private get first(): StreamSession | undefined {
    return this.sessions[0];
  }

  private failAll(error: IngestError): void {
    for (const session of this.sessions) void session.fail(error);
  }

  // Node runs expired timers before it reads sockets: on a busy worker the
  // timer can expire while the client's start already waits to be read. The
  // check phase comes after the poll phase's reads, so a start that had arrived
  // in time has been handled by then.
  /** @internal The start timer expired (onStartTimeout). */
  startTimedOut(): void {
    this.startTimer = undefined;
    this.startCheck = setImmediate(checkStarted, this);
  }

  /** @internal The check after the start timer (checkStarted). */
  checkStarted(): void {
    this.startCheck = undefined;
    const first = this.first;
    if (first && !first.started)
      void first.fail(new IngestError('start_timeout', `no start message within ${this.options.startTimeoutMs} ms`));
  }

  /** @internal A message from the socket (onMessage). */
  message(data: Buffer, isBinary: boolean): void {
    try {
      this.handler.onMessage(data, isBinary);
    } catch (err) {
      if (err instanceof IngestError) return this.failAll(err);
      // Anything but a protocol error is a bug: it ends this connection's
      // streams (flushed first), never the worker and every stream on it.
      this.log.error(
        { err, interaction_id: this.first?.interactionId },
        `unexpected error handling a ${this.options.messageKind}`,
      );
      this.failAll(new IngestError('internal_error', 'the server failed to handle this message'));
    }
  }

  /** @internal A pong (onPong). */
  pong(data: Buffer): void {
    for (const session of this.sessions) session.pong(data);
  }

  /** @internal A socket error (onError). */
  error(err: WsError): void {
    // ws closes the socket itself after a protocol error (1009 for a message
    // over its maxPayload, 1002/1007 for broken framing); the close handler
    // flushes. An oversize message is still the stream's error, not a client close.
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
      return this.failAll(new IngestError('frame_too_large', this.options.oversizeReason));
    this.log.warn(
      { err: err.message, ws_code: err.code, interaction_id: this.first?.interactionId },
      'websocket error',
    );
  }

  /** @internal The socket closed (onClose). */
  socketClosed(code: number): void {
    this.close();
    this.closing();
    for (const session of this.sessions) session.onSocketClosed(code);
  }
}

/**
 * The socket's listeners and the start timer's callbacks are the same functions
 * for every connection, which each find their binding on the socket (ws calls a
 * listener with the socket as `this`): thousands of idle connections would
 * otherwise each hold six closures and their context.
 */
const BINDING = Symbol('ConnectionBinding');

type BoundSocket = WebSocket & { [BINDING]: ConnectionBinding };

function bindingOf(ws: WebSocket): ConnectionBinding {
  return (ws as BoundSocket)[BINDING];
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  bindingOf(this).message(data, isBinary);
}

function onPong(this: WebSocket, data: Buffer): void {
  bindingOf(this).pong(data);
}

function onError(this: WebSocket, err: WsError): void {
  bindingOf(this).error(err);
}

function onClose(this: WebSocket, code: number): void {
  bindingOf(this).socketClosed(code);
}

function onStartTimeout(binding: ConnectionBinding): void {
  binding.startTimedOut();
}

function checkStarted(binding: ConnectionBinding): void {
  binding.checkStarted();
}

/** A class, not an object of closures: its methods are shared by every connection, which holds one field. */
class WsTransport implements StreamTransport {
  constructor(
    private readonly ws: WebSocket,
    private readonly binding: ConnectionBinding,
  ) {}

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
    this.binding.closing();
  }

  terminate(): void {
    this.ws.terminate();
    this.binding.closing();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }
}
