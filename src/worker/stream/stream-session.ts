/**
 * One stream, whatever its source protocol: its state machine, its buffering
 * into records, its acks and the way each of its ends closes. Source protocols
 * (native, and telephony dialects) translate their messages into calls on this
 * class. The rest is delegated: liveness (ping, idle), the records' shapes,
 * the reply dialect, the ordered publish queue and back-pressure.
 *
 * Life: awaiting_start → streaming → ending → closed. Every way out of
 * `streaming` flushes the buffer into the queue first, so what was acked is
 * published unless the process itself dies, or the session gives it up: its
 * socket closed and CLOSED_STREAM_RETENTION_MS passed (or the shutdown
 * deadline), counted as lost and logged.
 *
 * Its unpublished bytes count in the worker's total (MAX_WORKER_BACKLOG_BYTES)
 * from the frame's arrival to the backend's confirmation or the give-up; its
 * records wait for older sessions of the same interaction (interaction-order.ts).
 *
 * Longer than most files (about 500 lines): every way a stream ends, and what
 * each does with its data (flush, wait, retention, give-up), is one state
 * machine, read best in one place; the parts that stand alone (liveness,
 * gate, queue, records, replies, the worker's backlog) are their own files.
 */
import { randomUUID } from 'node:crypto';
import { IngestError } from '../../shared/errors';
import type { Log } from '../../shared/process/bound-log';
import type { MediaFormat, ServerMessages } from '../../shared/protocol';
import type { Publisher } from '../../shared/publishing/publisher';
import {
  sequenceSpace,
  type EndReason,
  type IngestRecord,
  type RecordBase,
  type Source,
} from '../../shared/publishing/records';
import type { LossReason, WorkerStats } from '../metrics/worker-stats';
import { BackpressureGate, type PauseCause } from './backpressure-gate';
import { FrameBuffer } from './frame-buffer';
import { PublishOutcomes } from './publish-outcomes';
import { RecordBuilder } from './record-builder';
import { StreamLiveness } from './stream-liveness';
import type { InteractionOrder, Turn } from './interaction-order';
import { StreamPublishQueue, type FailureOutcome } from './stream-publish-queue';
import { StreamReplies } from './stream-replies';
import { closeCodeLabel, closeTransport, type StreamTransport } from './stream-transport';
import type { WorkerBacklog } from './worker-backlog';

export interface SessionLimits {
  readonly bufferDurationMs: number;
  readonly ackInterval: number;
  readonly maxChunkBytes: number;
  readonly maxStreamBacklogBytes: number;
  readonly maxSendBufferBytes: number;
  readonly backpressureTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly closedStreamRetentionMs: number;
}

/** Why unpublished data was given up (the `reason` of ingest_lost_bytes_total). */

export interface SessionDeps {
  readonly limits: SessionLimits;
  readonly publisher: Publisher;
  /** The worker's log; a session logs with its connection's when given one (its fields on every line). */
  readonly logger: Log;
  readonly stats: WorkerStats;
  /** The worker's unpublished bytes, every session's together. */
  readonly backlog: WorkerBacklog;
  /** The worker's sessions in line per interaction. */
  readonly order: InteractionOrder;
  /** Called once, when the socket is closed and every record has settled. */
  readonly onFinished: (session: StreamSession) => void;
}

export interface StreamStart {
  readonly interactionId: string;
  readonly streamId?: string;
  readonly media: MediaFormat;
  readonly firstSeq: number;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The tenant, when the source learns it only from its start (telephony account maps). */
  readonly tenantId?: string;
}

type State = 'awaiting_start' | 'streaming' | 'ending' | 'closed';

/** How an end closes the socket; undefined when the peer closed it first. */
interface EndClose {
  readonly code: number;
  readonly reason: string;
  /** Close only once every record has settled, with 1011 instead if the backend refused one. */
  readonly waitForBackend?: boolean;
  /** Reply `stopped` before that close. */
  readonly stopped?: boolean;
  /** No close handshake: the peer is gone. */
  readonly terminate?: boolean;
}

export class StreamSession {
  private state: State = 'awaiting_start';
  /** Set at begin(): the stream's ids and media, stamped on each of its records. */
  private records: RecordBuilder | undefined;
  private readonly buffer = new FrameBuffer();
  private readonly queue: StreamPublishQueue;
  private readonly replies: StreamReplies;
  private readonly outcomes: PublishOutcomes;
  private nextSeq = 1;
  private frames = 0;
  private sinceAck = 0;
  private lastCommitted = 0;
  private readonly backpressure: BackpressureGate;
  private readonly liveness: StreamLiveness;
  private socketClosed = false;
  private finished = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Armed when the socket closes with data still unpublished (CLOSED_STREAM_RETENTION_MS). */
  private retentionTimer: NodeJS.Timeout | undefined;
  /** Counted in the streams a closed socket left publishing (ingest_closed_streams_publishing). */
  private retained = false;
  /** This session's share of the worker's backlog, as last added to it. */
  private accounted = 0;
  private shareReleased = false;
  /** Its place among the sessions of its interaction, from begin(). */
  private turn: Turn | undefined;
  private endPromise: Promise<void> | undefined;
  private log: Log;

  constructor(
    private readonly transport: StreamTransport,
    private tenantId: string,
    private readonly source: Source,
    private readonly deps: SessionDeps,
    messages: ServerMessages | undefined,
    private readonly connectionLog: Log = deps.logger,
  ) {
    this.log = connectionLog;
    // The session itself hears its parts' events (its public on… methods): closures
    // for each would cost every idle stream a dozen functions and their contexts.
    this.replies = new StreamReplies(transport, messages, deps.limits.maxSendBufferBytes, this);
    this.outcomes = new PublishOutcomes(deps.stats, deps.publisher.adapter);
    this.queue = new StreamPublishQueue(deps.publisher, this);
    this.backpressure = new BackpressureGate(transport, deps.limits, deps.backlog, this);
    this.liveness = new StreamLiveness(deps.limits.idleTimeoutMs, this.backpressure, this);
  }

  get started(): boolean {
    return this.state !== 'awaiting_start';
  }

  get streaming(): boolean {
    return this.state === 'streaming';
  }

  get interactionId(): string | undefined {
    return this.records?.ids.interaction_id;
  }

  /** Bytes received but not yet confirmed by the backend. */
  get unpublishedBytes(): number {
    return this.buffer.bytes + this.queue.backlogBytes;
  }

  /** Starts the stream; `replies` switches the reply dialect (legacy clients). */
  begin(start: StreamStart, replies?: ServerMessages): void {
    if (replies) this.replies.useDialect(replies);
    if (start.tenantId !== undefined) this.tenantId = start.tenantId;
    const streamId = start.streamId ?? randomUUID();
    const records = new RecordBuilder(
      { tenant_id: this.tenantId, interaction_id: start.interactionId, stream_id: streamId, source: this.source },
      start.media,
    );
    this.records = records;
    this.nextSeq = start.firstSeq;
    this.state = 'streaming';
    this.deps.stats.streamsActive++;
    this.log = this.connectionLog.child({
      tenant_id: this.tenantId,
      interaction_id: start.interactionId,
      stream_id: streamId,
    });
    // One line per sequence space: a native interaction's resumed sessions queue, a
    // telephony stream's (never resumed) only behind a reconnect of the same stream id.
    this.turn = this.deps.order.join(sequenceSpace(records.ids), () => this.onTurn());
    if (!this.turn.ready) {
      this.queue.hold();
      this.log.info('an earlier session of this interaction is still publishing: records held until it is done');
    }
    this.queue.push(records.started(start.firstSeq, start.metadata));
    this.syncBacklog();
    this.liveness.watchIdle();
    this.replies.started(streamId, start.interactionId, start.firstSeq);
    this.log.info({ media: start.media, first_seq: start.firstSeq }, 'stream started');
  }

  /** The hot path: one binary frame of a started stream. */
  frame(data: Buffer): void {
    const seq = this.nextSeq++;
    // Past 2^53 - 1, ++ stops counting: frames would share a seq, and consumers
    // (and Redis deduplication) would drop them as already taken.
    if (seq > Number.MAX_SAFE_INTEGER) {
      void this.fail(new IngestError('seq_exhausted', `frame numbers past ${Number.MAX_SAFE_INTEGER}`));
      return;
    }
    const now = Date.now();
    this.liveness.touch(now);
    this.frames++;
    const stats = this.deps.stats;
    stats.framesReceived++;
    stats.bytesReceived += data.length;
    // A record's frames are numbered without gaps (consumers cut it by seq): a
    // source's gap starts a new record.
    if (this.buffer.count > 0 && seq !== this.buffer.lastSeq + 1) this.flush();
    if (this.buffer.add(data, seq, now)) this.armFlushTimer();
    if (this.buffer.bytes >= this.deps.limits.maxChunkBytes) this.flush();
    if (this.replies.enabled && ++this.sinceAck === this.deps.limits.ackInterval) {
      this.sinceAck = 0;
      stats.acksSent++;
      this.replies.ack(seq);
    }
    this.syncBacklog();
    this.checkBackpressure();
  }

  /**
   * A frame numbered by its source (telephony chunk numbers): a number already
   * seen is a duplicate and dropped; a jump forward is a gap, counted, never
   * waited for. Returns what happened to the frame.
   */
  frameAt(data: Buffer, seq: number): 'accepted' | 'duplicate' | 'gap' {
    if (seq < this.nextSeq) {
      this.deps.stats.duplicateFrames++;
      return 'duplicate';
    }
    const outcome = seq > this.nextSeq ? 'gap' : 'accepted';
    if (outcome === 'gap') this.deps.stats.count(this.deps.stats.sequenceGaps, this.source);
    this.nextSeq = seq;
    this.frame(data);
    return outcome;
  }

  keepalive(): void {
    this.liveness.touch(Date.now());
  }

  /** A record other than audio (dtmf, mark) in its place between frames. */
  event(record: (base: RecordBase) => IngestRecord): void {
    if (!this.records) return;
    this.flush();
    this.queue.push(this.records.event(record));
    this.syncBacklog();
    this.checkBackpressure();
  }

  /** A pong from the peer; one that does not answer the last ping is counted and ignored. */
  pong(payload: Buffer): void {
    if (!this.liveness.pong(payload)) this.deps.stats.pongsIgnored++;
  }

  /** Called by the worker's heartbeat every PING_INTERVAL_MS with its ping. Returns false when the peer is gone. */
  heartbeat(ping: (payload: Buffer) => void): boolean {
    if (this.liveness.heartbeat(ping)) return true;
    this.log.warn('no pong since the previous ping: terminating');
    void this.end('ping_timeout', { code: 0, reason: 'ping timeout', terminate: true });
    return false;
  }

  /** `stop` from the client: flush, wait for the backend, reply `stopped`, close 1000. */
  stop(reason: EndReason = 'stop'): Promise<void> {
    return this.end(reason, { code: 1000, reason: 'stream stopped', waitForBackend: true, stopped: true });
  }

  /** A protocol or policy violation: error message, close with its code, publish what was buffered. */
  fail(error: IngestError): Promise<void> {
    this.log.warn({ code: error.code, close_code: error.closeCode }, error.message);
    this.replies.error(error.code, error.message);
    const code = error.closeCode ?? 1008;
    return this.end('error', { code, reason: error.message });
  }

  /** Graceful server-side close (shutdown 1001, rolling restart 1012): everything published first. */
  shutdown(code: number, reason: string): Promise<void> {
    return this.end('shutdown', { code, reason, waitForBackend: true });
  }

  /** The socket closed (by the client, or after our own close). */
  onSocketClosed(code: number): void {
    this.socketClosed = true;
    this.deps.stats.count(this.deps.stats.streamCloses, closeCodeLabel(code));
    this.clearTimers();
    if (this.state === 'streaming') {
      this.log.info({ close_code: code }, 'client closed the stream');
      void this.end('client_closed', undefined);
    } else if (this.state === 'awaiting_start') {
      this.state = 'closed';
    }
    if (this.state === 'ending') this.retain();
    this.maybeFinished();
  }

  private end(reason: EndReason, close: EndClose | undefined): Promise<void> {
    if (this.endPromise) return this.endPromise;
    const wasStreaming = this.state === 'streaming';
    this.state = 'ending';
    this.clearTimers();
    if (wasStreaming) {
      this.flush();
      this.queue.push(this.records!.ended(this.nextSeq - 1, this.frames, reason));
      this.syncBacklog();
      this.deps.stats.streamsActive--;
    }
    this.endPromise = this.finishEnd(reason, close, wasStreaming);
    return this.endPromise;
  }

  private async finishEnd(reason: EndReason, close: EndClose | undefined, wasStreaming: boolean): Promise<void> {
    if (close?.terminate) this.transport.terminate();
    else if (close && !close.waitForBackend) closeTransport(this.transport, close.code, close.reason, this.log);
    await this.queue.whenIdle();
    const failure = this.queue.failure;
    if (close?.waitForBackend && !this.socketClosed) {
      if (failure) {
        this.replies.error(failure.code, BACKEND_REFUSED);
        closeTransport(this.transport, 1011, BACKEND_REFUSED, this.log);
      } else {
        if (close.stopped) this.replies.stopped(this.nextSeq - 1, this.frames);
        closeTransport(this.transport, close.code, close.reason, this.log);
      }
    }
    this.state = 'closed';
    this.stopRetaining();
    this.releaseShare();
    const turn = this.turn;
    if (turn) void this.queue.whenSettled().then(() => turn.done());
    if (wasStreaming) {
      this.log.info(
        {
          reason,
          frames: this.frames,
          last_seq: this.nextSeq - 1,
          committed: this.lastCommitted,
          unpublished_bytes: this.queue.backlogBytes,
        },
        'stream ended',
      );
    }
    this.maybeFinished();
  }

  /** Moves buffered frames into the publish queue as one audio record. */
  private flush(): void {
    // A cleared timer cannot be refresh()ed back to life: drop it so the next
    // record arms a new one.
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const record = this.records!.audio(this.buffer);
    if (record) this.queue.push(record);
  }

  /** Adds what changed in this session's unpublished bytes to the worker's total: O(1). */
  private syncBacklog(): void {
    if (this.shareReleased) return;
    const now = this.unpublishedBytes;
    this.deps.backlog.add(now - this.accounted);
    this.accounted = now;
  }

  /** The session is closed: what it still holds (refused for good) will never be published. */
  private releaseShare(): void {
    if (this.shareReleased) return;
    this.shareReleased = true;
    this.deps.backlog.add(-this.accounted);
    this.accounted = 0;
  }

  private checkBackpressure(): void {
    const cause = this.backpressure.check(this.unpublishedBytes);
    if (cause === 'stream') {
      this.log.warn({ unpublished_bytes: this.unpublishedBytes }, 'backlog limit reached: reading paused');
    } else if (cause === 'worker') {
      this.log.warn(
        { unpublished_bytes: this.unpublishedBytes, worker_backlog_bytes: this.deps.backlog.bytes },
        'worker backlog limit reached: reading paused',
      );
    }
  }

  /** An earlier session of the interaction has published or given up everything: ours may go. */
  private onTurn(): void {
    this.log.info('the earlier session of this interaction is done: publishing');
    // A closed session held in line could not publish: its retention counts from now.
    if (this.retained) this.armRetention();
    this.queue.release();
  }

  /** The socket closed with data still unpublished: it is kept CLOSED_STREAM_RETENTION_MS at most. */
  private retain(): void {
    if (this.retained) return;
    this.retained = true;
    this.deps.stats.streamsRetained++;
    if (!this.queue.isHeld) this.armRetention(); // else from its turn (onTurn)
  }

  private armRetention(): void {
    if (this.retentionTimer) clearTimeout(this.retentionTimer);
    this.retentionTimer = setTimeout(() => {
      this.retentionTimer = undefined;
      if (this.state !== 'closed') this.giveUp('retention_expired');
    }, this.deps.limits.closedStreamRetentionMs);
  }

  private stopRetaining(): void {
    if (this.retentionTimer) clearTimeout(this.retentionTimer);
    this.retentionTimer = undefined;
    if (!this.retained) return;
    this.retained = false;
    this.deps.stats.streamsRetained--;
  }

  /**
   * Stops publishing for good: everything not confirmed is counted as lost
   * (ingest_lost_bytes_total, ingest_lost_frames_total) and logged once with
   * the seq range given up. Returns the bytes lost.
   */
  private giveUp(reason: LossReason): number {
    const buffered = this.buffer.bytes;
    const loss = this.queue.abandon();
    this.syncBacklog();
    const bytes = loss.bytes + buffered;
    if (loss.records === 0 && buffered === 0) return 0;
    const frames = loss.frames + this.buffer.count;
    const stats = this.deps.stats;
    stats.count(stats.lostBytes, reason, bytes);
    stats.count(stats.lostFrames, reason, frames);
    this.log.error(
      {
        reason,
        lost_bytes: bytes,
        lost_frames: frames,
        lost_records: loss.records,
        lost_seq_start: loss.seqStart ?? (this.buffer.count > 0 ? this.buffer.firstSeq : undefined),
        lost_seq_end: this.buffer.count > 0 ? this.buffer.lastSeq : loss.seqEnd,
        ...(reason === 'retention_expired' ? { retention_ms: this.deps.limits.closedStreamRetentionMs } : {}),
      },
      reason === 'retention_expired'
        ? 'closed stream not published within CLOSED_STREAM_RETENTION_MS: its backlog is given up'
        : 'shutdown deadline passed: the backlog is given up',
    );
    return bytes;
  }

  /** Armed by the first frame of each record; flush() clears it. */
  private armFlushTimer(): void {
    this.flushTimer = setTimeout(this.onFlushTimer, this.deps.limits.bufferDurationMs);
  }

  private readonly onFlushTimer = (): void => {
    if (this.state === 'streaming') this.flush();
  };

  /** @internal StreamLiveness: no frame nor keepalive for IDLE_TIMEOUT_MS. */
  onIdle(idleMs: number): void {
    if (this.state !== 'streaming') return;
    this.log.info({ idle_ms: idleMs }, 'idle timeout');
    void this.end('idle_timeout', { code: 1000, reason: 'idle timeout', waitForBackend: true });
  }

  /** @internal StreamPublishQueue: the backlog fell. */
  onBacklogDrained(): void {
    this.syncBacklog();
    if (this.state === 'streaming' && this.backpressure.relieve(this.unpublishedBytes)) {
      this.log.info('backlog below its limit: reading resumed');
    }
  }

  /**
   * The client left MAX_SEND_BUFFER_BYTES of replies unread. Closed with 1008: the client breaks the protocol
   * (it must read), and 1013 would invite it to come back and do the same. Deferred, because a reply is sent
   * from the middle of frame() and of the publish queue's callbacks.
   */
  onSendBufferFull(bufferedBytes: number): void {
    this.deps.stats.sendBufferOverflows++;
    const error = new IngestError(
      'send_buffer_full',
      `${bufferedBytes} bytes of replies unread: over MAX_SEND_BUFFER_BYTES (${this.deps.limits.maxSendBufferBytes})`,
    );
    queueMicrotask(() => {
      if (this.state === 'streaming' || this.state === 'awaiting_start') return void this.fail(error); // logs it
      if (this.socketClosed) return;
      this.log.warn({ code: error.code, close_code: 1008 }, error.message);
      closeTransport(this.transport, 1008, error.message, this.log);
    });
  }

  /** @internal StreamPublishQueue: the backend confirmed a record. */
  onConfirmed(record: IngestRecord, durationMs: number): void {
    this.outcomes.confirmed(record, durationMs);
    if (record.type !== 'audio') return;
    this.lastCommitted = record.seq_end;
    this.replies.committed(record.seq_end);
  }

  /** @internal StreamPublishQueue: a publish failed. */
  onFailed(error: IngestError, record: IngestRecord, outcome: FailureOutcome): void {
    this.outcomes.failed(error, record, outcome, this.queue.backlogBytes, this.log);
    if (outcome !== 'stopped' || this.state !== 'streaming') return;
    this.replies.error(error.code, BACKEND_REFUSED);
    void this.end('error', { code: 1011, reason: BACKEND_REFUSED });
  }

  /** @internal BackpressureGate: paused for BACKPRESSURE_TIMEOUT_MS. */
  onStuck(cause: PauseCause): void {
    if (this.state === 'streaming') void this.fail(makeBacklogError(cause, this.unpublishedBytes, this.deps.backlog));
  }

  /** @internal BackpressureGate: reading resumed as the worker's backlog fell below its limit. */
  onWorkerRelief(): void {
    this.log.info('worker backlog below its limit: reading resumed');
  }

  /** Every timer the session owns, and reading resumed (an ending stream must read the peer's close). Idempotent. */
  private clearTimers(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.liveness.stop();
    this.backpressure.release();
  }

  private maybeFinished(): void {
    if (this.finished || !this.socketClosed || (this.state !== 'closed' && this.state !== 'awaiting_start')) return;
    this.finished = true;
    this.deps.onFinished(this);
  }

  /** Abandons retries (shutdown deadline): returns the bytes that will not be published, counted as lost. */
  abandon(): number {
    return this.giveUp('shutdown_deadline');
  }
}

/**
 * All a client is told of a backend's refusal, beside its stable code: the backend's own message can
 * name the Redis address, the stream key or the Kafka topic. PublishOutcomes logs it in full, once.
 */
const BACKEND_REFUSED = 'backend refused the data';

function makeBacklogError(cause: PauseCause, bytes: number, worker: WorkerBacklog): IngestError {
  if (cause === 'worker') {
    return new IngestError(
      'backlog_full',
      `the worker's unpublished backlog (${worker.bytes} bytes, limit ${worker.limitBytes}) did not drain in time`,
    );
  }
  return new IngestError('backlog_full', `unpublished backlog of ${bytes} bytes did not drain in time`);
}
