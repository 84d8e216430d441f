/**
 * Binds one telephony WebSocket to StreamSessions, whatever the provider: the
 * provider's SourceProtocol translates each message, and this module turns the
 * events into session calls (begin, frames, dtmf and mark records, stop); the
 * wiring it shares with the native dialect is ConnectionBinding's.
 * Nothing is ever sent to the provider: the one-way applets must receive
 * nothing, and telephony connections are not pinged (media every 20 ms and the
 * idle timeout find dead peers).
 *
 * One session exists from the upgrade on, so that a shutdown before `start`
 * closes the socket like any other; it takes the first track at `start`, and
 * further tracks (Twilio's outbound) get sessions of their own.
 *
 * A tenant learnt from `start` takes its MAX_STREAMS_PER_TENANT lease there:
 * the socket is paused and what arrives meanwhile is kept, then handled in
 * order once the lease is held; at the limit the stream is closed with 1013
 * `tenant_stream_limit` before anything is published. Every lease goes back
 * when the server closes the stream or the socket closes.
 */
import type WebSocket from 'ws';
import { IngestError } from '../../../shared/errors';
import type { Log } from '../../../shared/process/bound-log';
import { StreamSession, type SessionDeps } from '../../stream/stream-session';
import { ConnectionBinding, type ConnectionBindingOptions, type MessageHandler } from '../connection-binding';
import type { IgnoreReason, TelephonyEvent, TelephonyStart } from './source-protocol';
import { boundedMetadata, startIdProblem } from './start-limits';
import type { TelephonyAdmission } from './telephony-gate';
import { bytesPerSample, decodePayload, parseFrame } from './telephony-message';

/** What every telephony connection's binding is given: made once per worker (the acceptor keeps it). */
export type TelephonyConnectionOptions = ConnectionBindingOptions;

export function telephonyConnectionOptions(startTimeoutMs: number): TelephonyConnectionOptions {
  return {
    startTimeoutMs,
    oversizeReason: 'message exceeds the WebSocket size limit',
    messageKind: 'telephony message',
  };
}

/** Log the first invalid payload of a stream, then one line per this many. */
const INVALID_LOG_EVERY = 100;
const MAX_REASON_LENGTH = 64;

interface Track {
  readonly session: StreamSession;
  readonly log: Log;
  readonly sampleBytes: number;
  /** Added to chunk numbers so that a provider counting from 0 still starts at seq 1. */
  chunkOffset: number | undefined;
  invalidPayloads: number;
}

export function attachTelephonyConnection(
  ws: WebSocket,
  admission: TelephonyAdmission,
  deps: SessionDeps,
  options: TelephonyConnectionOptions,
  register: (session: StreamSession) => void,
  log: Log = deps.logger,
): void {
  new TelephonyConnection(ws, admission, deps, options, register, log).listen();
}

class TelephonyConnection implements MessageHandler {
  private readonly binding: ConnectionBinding;
  private readonly first: StreamSession;
  private readonly tracks = new Map<string, Track>();
  private firstTrack: Track | undefined;
  private readonly ignoredOnce = new Set<IgnoreReason>();
  /** Messages that arrived while `start`'s lease was being taken (the socket paused meanwhile). */
  private waiting: [Buffer, boolean][] | undefined;

  constructor(
    ws: WebSocket,
    private readonly admission: TelephonyAdmission,
    private readonly deps: SessionDeps,
    options: TelephonyConnectionOptions,
    private readonly register: (session: StreamSession) => void,
    private readonly log: Log,
  ) {
    this.binding = new ConnectionBinding(ws, this, log, options);
    this.binding.onClosing(admission.releaseLease);
    // The tenant is set at begin(), once `start` names the account.
    this.first = this.newSession(admission.knownTenant ?? '');
  }

  listen(): void {
    this.binding.listen();
  }

  private newSession(tenantId: string): StreamSession {
    const session = new StreamSession(
      this.binding.transport,
      tenantId,
      this.admission.source,
      this.deps,
      undefined,
      this.log,
    );
    this.binding.add(session);
    this.register(session);
    return session;
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.waiting) return void this.waiting.push([data, isBinary]);
    const message = parseFrame(data, isBinary);
    if (typeof message === 'string')
      return this.ignore(message, `${data.length}-byte ${isBinary ? 'binary' : 'text'} frame`);
    const event: TelephonyEvent = this.admission.protocol.translate(message);
    switch (event.kind) {
      case 'connected':
        return;
      case 'start':
        return this.onStart(event.start);
      case 'media':
        return this.onMedia(event.track, event.chunk, event.payload);
      case 'dtmf':
        return this.onRecord(event.track, 'dtmf', (t) => {
          const duration =
            event.durationMs !== undefined && event.durationMs >= 0
              ? { duration_ms: Math.round(event.durationMs) }
              : {};
          t.session.event((base) => ({ type: 'dtmf', ...base, digit: event.digit.slice(0, 16), ...duration }));
        });
      case 'mark':
        return this.onRecord(event.track, 'mark', (t) =>
          t.session.event((base) => ({ type: 'mark', ...base, name: event.name.slice(0, 256) })),
        );
      case 'stop':
        return this.onStop(event.reason);
      case 'ignored':
        return this.ignore(event.reason, event.detail);
    }
  }

  private onStart(start: TelephonyStart): void {
    if (this.first.started) {
      // Ended before any start (start timeout, shutdown): nothing to do; else a second start.
      if (this.firstTrack) this.ignore('duplicate_start', 'a second start on this connection');
      return;
    }
    this.binding.started();
    const idProblem = startIdProblem(start);
    if (idProblem !== undefined) return void this.first.fail(new IngestError('invalid_start', idProblem));
    const tenantId = this.admission.tenantFor(start);
    if (tenantId === undefined) {
      return void this.first.fail(
        new IngestError(
          'tenant_unmapped',
          `no tenant for this stream (account_sid ${start.accountSid ?? 'absent'} is not mapped)`,
        ),
      );
    }
    const leaseAtStart = this.admission.leaseAtStart;
    if (!leaseAtStart) return this.begin(start, tenantId);
    this.waiting = [];
    this.binding.transport.pause();
    leaseAtStart(tenantId)
      .then(
        (release) => this.leased(start, tenantId, release),
        (err: unknown) => this.leaseRefused(start, tenantId, err),
      )
      .catch((err: unknown) => {
        this.log.error({ err, interaction_id: start.callSid }, 'unexpected error beginning a telephony stream');
        void this.first.fail(new IngestError('internal_error', 'the server failed to handle this message'));
      });
  }

  /** The lease is held: the stream begins, then what arrived meanwhile is handled, unless it ended meanwhile. */
  private leased(start: TelephonyStart, tenantId: string, release: () => void): void {
    this.binding.onClosing(release); // at once when the socket has closed meanwhile
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    if (this.binding.closed || this.first.started) return; // closed, or shut down, while waiting
    this.binding.transport.resume();
    this.begin(start, tenantId);
    for (const [data, isBinary] of waiting) this.binding.message(data, isBinary);
  }

  /** The tenant is at MAX_STREAMS_PER_TENANT: closed with 1013, counted like an upgrade refused for it. */
  private leaseRefused(start: TelephonyStart, tenantId: string, err: unknown): void {
    this.waiting = undefined;
    if (this.binding.closed || this.first.started) return;
    if (!(err instanceof IngestError)) {
      this.log.error({ err, interaction_id: start.callSid }, 'taking the tenant stream lease failed unexpectedly');
      return void this.first.fail(new IngestError('internal_error', 'the server failed to admit this stream'));
    }
    const stats = this.deps.stats;
    stats.count(stats.connections, err.code);
    this.log.info(
      { code: err.code, tenant_id: tenantId, interaction_id: start.callSid },
      `telephony stream refused at start: ${err.message}`,
    );
    void this.first.fail(new IngestError(err.code, `${err.code}: ${err.message}`));
  }

  private begin(start: TelephonyStart, tenantId: string): void {
    const metadata = this.bounded(start);
    start.tracks.forEach((spec, i) => {
      const session = i === 0 ? this.first : this.newSession(tenantId);
      const trackMetadata = spec.track === '' ? metadata : { ...metadata, track: spec.track };
      session.begin({
        interactionId: start.callSid!,
        streamId: spec.streamId,
        media: start.media,
        firstSeq: 1,
        metadata: trackMetadata,
        tenantId,
      });
      const track: Track = {
        session,
        log: this.log.child({ tenant_id: tenantId, interaction_id: start.callSid, stream_id: spec.streamId }),
        sampleBytes: bytesPerSample(start.media.encoding, start.media.channels),
        chunkOffset: undefined,
        invalidPayloads: 0,
      };
      this.tracks.set(spec.track, track);
      this.firstTrack ??= track;
    });
  }

  /** The start's metadata within its limits (start-limits.ts); what was cut is counted and logged once. */
  private bounded(start: TelephonyStart): Readonly<Record<string, unknown>> {
    const { metadata, trimmed } = boundedMetadata(start.metadata);
    const cut = [...start.trimmed, ...trimmed];
    if (cut.length === 0) return metadata;
    const stats = this.deps.stats;
    for (const what of cut) stats.count(stats.telephonyStartTrimmed, `${this.admission.source}|${what}`);
    this.log.warn(
      { interaction_id: start.callSid, trimmed: cut },
      'start over its limits: trimmed (unknown or repeated tracks, long text fields, custom parameters)',
    );
    return metadata;
  }

  private trackFor(name: string | undefined, what: string): Track | undefined {
    if (!this.firstTrack) {
      this.ignore('before_start', `${what} before start`);
      return undefined;
    }
    const track = name === undefined ? this.firstTrack : this.tracks.get(name);
    if (!track) this.ignore('unknown_track', `${what} for track ${name!.slice(0, 40)}, not in start`);
    return track;
  }

  private onMedia(trackName: string | undefined, chunk: number | undefined, payload: unknown): void {
    const track = this.trackFor(trackName, 'media');
    if (!track || !track.session.streaming) return; // frames racing a stop are dropped with the stream
    const decoded = decodePayload(payload, track.sampleBytes);
    if (!decoded.ok) return this.invalidPayload(track, decoded.problem, chunk);
    // Tracks share one socket: media on any keeps the others from an idle close
    // that would end them all (a track may pause while the call goes on).
    if (this.tracks.size > 1) for (const other of this.tracks.values()) if (other !== track) other.session.keepalive();
    if (chunk === undefined) return track.session.frame(decoded.data);
    track.chunkOffset ??= chunk < 1 ? 1 - chunk : 0;
    track.session.frameAt(decoded.data, chunk + track.chunkOffset);
  }

  private onRecord(trackName: string | undefined, what: string, write: (track: Track) => void): void {
    const track = this.trackFor(trackName, what);
    if (track?.session.streaming) write(track);
  }

  /** `stop:<reason>` with the provider's reason (Exotel: callended, stopped), plain `stop` without one. */
  private onStop(reason: string | undefined): void {
    if (!this.firstTrack) return this.ignore('before_start', 'stop before start');
    const safe = reason?.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_REASON_LENGTH);
    for (const track of this.tracks.values()) {
      if (track.session.streaming) void track.session.stop(safe ? `stop:${safe}` : 'stop');
    }
  }

  private invalidPayload(track: Track, problem: string, chunk: number | undefined): void {
    const stats = this.deps.stats;
    stats.count(stats.invalidPayloads, this.admission.source);
    track.invalidPayloads++;
    if (track.invalidPayloads === 1 || track.invalidPayloads % INVALID_LOG_EVERY === 0) {
      track.log.warn(
        { code: 'invalid_payload', chunk, invalid_payloads: track.invalidPayloads },
        `media payload skipped: ${problem}`,
      );
    }
  }

  private ignore(reason: IgnoreReason, detail: string): void {
    const stats = this.deps.stats;
    stats.count(stats.telephonyIgnored, `${this.admission.source}|${reason}`);
    const first = !this.ignoredOnce.has(reason);
    this.ignoredOnce.add(reason);
    const fields = { reason, interaction_id: this.first.interactionId };
    if (first) this.log.info(fields, `telephony message ignored: ${detail}`);
    else this.log.debug(fields, `telephony message ignored: ${detail}`);
  }
}
