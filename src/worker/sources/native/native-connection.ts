/**
 * The native source protocol (protocol.md 1.2): binds one accepted WebSocket to
 * a StreamSession. Text messages are parsed and validated here; binary frames
 * go straight to the session's hot path.
 */
import type WebSocket from 'ws';
import { IngestError } from '../../../shared/errors';
import { parseClientMessage, ServerMessages, type StartMessage } from '../../../shared/protocol';
import type { VerifiedIdentity } from '../../admission/upgrade-guard';
import { StreamSession, type SessionDeps, type StreamTransport } from '../../stream/stream-session';

export function wsTransport(ws: WebSocket): StreamTransport {
  return {
    get isOpen() {
      return ws.readyState === ws.OPEN;
    },
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
}

export interface NativeConnectionOptions {
  readonly startTimeoutMs: number;
  readonly maxFrameBytes: number;
}

/**
 * Wires ws events to a new session. The start timer is the only per-connection
 * timer before `start`; after it the session owns every timer.
 */
export function attachNativeConnection(
  ws: WebSocket,
  identity: VerifiedIdentity,
  deps: SessionDeps,
  options: NativeConnectionOptions,
): StreamSession {
  // Replies start in the v1 dialect; a legacy `start` switches them (begin()).
  const session = new StreamSession(wsTransport(ws), identity.tenantId, 'native', deps, new ServerMessages('v1'));
  const log = deps.logger;

  let startTimer: NodeJS.Timeout | undefined = setTimeout(() => {
    startTimer = undefined;
    if (!session.started)
      void session.fail(new IngestError('start_timeout', `no start message within ${options.startTimeoutMs} ms`));
  }, options.startTimeoutMs);

  const onStart = (start: StartMessage): void => {
    if (session.started) throw new IngestError('duplicate_start', 'the stream has already started');
    if (start.tenant_id !== undefined && start.tenant_id !== identity.tenantId) {
      throw new IngestError('tenant_mismatch', "tenant_id in start does not match the token's tenant");
    }
    if (identity.interactionId !== undefined && start.interaction_id !== identity.interactionId) {
      throw new IngestError(
        'interaction_mismatch',
        "interaction_id in start does not match the token's interaction_id claim",
      );
    }
    if (startTimer) clearTimeout(startTimer);
    startTimer = undefined;
    session.begin(
      { interactionId: start.interaction_id, media: start.media, firstSeq: start.first_seq, metadata: start.metadata },
      start.dialect === 'legacy' ? new ServerMessages('legacy') : undefined,
    );
  };

  const onText = (text: string): void => {
    const message = parseClientMessage(text);
    switch (message.type) {
      case 'start':
        return onStart(message);
      case 'keepalive':
        if (session.streaming) session.keepalive();
        return;
      case 'stop':
        if (!session.started) throw new IngestError('invalid_message', 'stop before start');
        if (session.streaming) void session.stop();
        return;
    }
  };

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      if (data.length > options.maxFrameBytes) {
        return void session.fail(
          new IngestError(
            'frame_too_large',
            `frame of ${data.length} bytes exceeds MAX_FRAME_BYTES (${options.maxFrameBytes})`,
          ),
        );
      }
      if (session.streaming) return session.frame(data);
      if (!session.started)
        void session.fail(new IngestError('frame_before_start', 'binary frame before the start message'));
      return; // frames racing a stop are ignored: the stream is ending
    }
    try {
      onText(data.toString('utf8'));
    } catch (err) {
      // Anything but a protocol error is a bug here: it ends this stream (after
      // flushing it), never the worker and every other stream on it.
      if (err instanceof IngestError) return void session.fail(err);
      log.error({ err, interaction_id: session.interactionId }, 'unexpected error handling a client message');
      void session.fail(new IngestError('internal_error', 'the server failed to handle this message'));
    }
  });
  ws.on('pong', () => session.pong());
  ws.on('error', (err: Error & { code?: string }) => {
    // ws closes the socket itself after a protocol error (1009 for a message
    // over its maxPayload, 1002/1007 for broken framing); the close handler
    // flushes. An oversize frame is still this stream's error, not a client close.
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      void session.fail(new IngestError('frame_too_large', `frame exceeds MAX_FRAME_BYTES (${options.maxFrameBytes})`));
      return;
    }
    log.warn({ err: err.message, ws_code: err.code, interaction_id: session.interactionId }, 'websocket error');
  });
  ws.on('close', (code: number) => {
    if (startTimer) clearTimeout(startTimer);
    session.onSocketClosed(code);
  });
  return session;
}
