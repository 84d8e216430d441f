/**
 * The native source protocol (protocol.md 1.2): binds one accepted WebSocket to
 * a StreamSession. Text messages are parsed and validated here; binary frames
 * go straight to the session's hot path. The wiring every dialect shares is
 * ConnectionBinding's.
 */
import type WebSocket from 'ws';
import { IngestError } from '../../../shared/errors';
import { parseClientMessage, ServerMessages, type StartMessage } from '../../../shared/protocol';
import type { VerifiedIdentity } from '../../admission/upgrade-guard';
import { StreamSession, type SessionDeps } from '../../stream/stream-session';
import { ConnectionBinding, type ConnectionBindingOptions, type MessageHandler } from '../connection-binding';
import type { Log } from '../../../shared/process/bound-log';

export interface NativeConnectionOptions {
  readonly maxFrameBytes: number;
  readonly binding: ConnectionBindingOptions;
}

/** Made once per worker (the acceptor keeps it), not per connection: the wording is every stream's. */
export function nativeConnectionOptions(startTimeoutMs: number, maxFrameBytes: number): NativeConnectionOptions {
  return {
    maxFrameBytes,
    binding: {
      startTimeoutMs,
      oversizeReason: `frame exceeds MAX_FRAME_BYTES (${maxFrameBytes})`,
      messageKind: 'client message',
    },
  };
}

// Stateless, so shared by every connection rather than made for each.
const V1_REPLIES = new ServerMessages('v1');
const LEGACY_REPLIES = new ServerMessages('legacy');

/**
 * Wires ws events to a new session. The start timer is the only per-connection
 * timer before `start`; after it the session owns every timer.
 */
export function attachNativeConnection(
  ws: WebSocket,
  identity: VerifiedIdentity,
  deps: SessionDeps,
  options: NativeConnectionOptions,
  log: Log = deps.logger,
): StreamSession {
  const connection = new NativeConnection(ws, identity, deps, options, log);
  connection.listen();
  return connection.session;
}

class NativeConnection implements MessageHandler {
  readonly session: StreamSession;
  private readonly binding: ConnectionBinding;

  constructor(
    ws: WebSocket,
    private readonly identity: VerifiedIdentity,
    deps: SessionDeps,
    private readonly options: NativeConnectionOptions,
    log: Log,
  ) {
    this.binding = new ConnectionBinding(ws, this, log, options.binding);
    // The lease goes back with the server's close frame, before a resuming client reconnects.
    this.binding.onClosing(identity.releaseLease);
    // Replies start in the v1 dialect; a legacy `start` switches them (begin()).
    this.session = new StreamSession(this.binding.transport, identity.tenantId, 'native', deps, V1_REPLIES, log);
    this.binding.add(this.session);
  }

  listen(): void {
    this.binding.listen();
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return this.onText(data.toString('utf8'));
    const session = this.session;
    if (data.length > this.options.maxFrameBytes) {
      return void session.fail(
        new IngestError(
          'frame_too_large',
          `frame of ${data.length} bytes exceeds MAX_FRAME_BYTES (${this.options.maxFrameBytes})`,
        ),
      );
    }
    if (session.streaming) return session.frame(data);
    if (!session.started)
      void session.fail(new IngestError('frame_before_start', 'binary frame before the start message'));
    // frames racing a stop are ignored: the stream is ending
  }

  private onText(text: string): void {
    const message = parseClientMessage(text);
    switch (message.type) {
      case 'start':
        return this.onStart(message);
      case 'keepalive':
        if (this.session.streaming) this.session.keepalive();
        return;
      case 'stop':
        if (!this.session.started) throw new IngestError('invalid_message', 'stop before start');
        if (this.session.streaming) void this.session.stop();
        return;
    }
  }

  private onStart(start: StartMessage): void {
    const { session, identity } = this;
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
    this.binding.started();
    session.begin(
      { interactionId: start.interaction_id, media: start.media, firstSeq: start.first_seq, metadata: start.metadata },
      start.dialect === 'legacy' ? LEGACY_REPLIES : undefined,
    );
  }
}
