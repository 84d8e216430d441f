/**
 * Puts each call back together from its records, in whatever order and with
 * whatever duplicates the backend holds (docs/protocol.md "Deduplicating by
 * frame sequence"; docs/consumer.md). Frames are keyed by (sequence space,
 * seq), the space being the `interaction_id` of a native stream (a resumed
 * stream numbers on under a new stream id) and the `stream_id` of a telephony
 * one (Twilio's two tracks share the call id, each numbers from 1): the first
 * copy of a seq is kept, every other copy counted as a duplicate, so
 * overlapping records with other boundaries are removed exactly. A frame
 * that comes after a higher seq of its space is placed where it belongs and
 * counted as out of order. Seqs missing between a space's first frame (its
 * `first_seq` when `stream_started` was read) and its last (`last_seq` of
 * `stream_ended` included) are gaps: reported, never hidden, and filled with
 * silence of the neighbouring frame's size unless the caller says not to.
 * `stream_started`/`stream_ended` are deduplicated by (stream_id, type); dtmf
 * and mark records by their content, and placed after the highest frame of
 * their space taken when they arrived.
 */
import type { AudioRecord, ConsumedRecord, Encoding, Source } from './consumed-record.js';
import { bytesPerSample, silenceByte } from './wav-encoder.js';

export interface Gap {
  /** The sequence space: the interaction (native) or the stream (telephony). */
  readonly space: string;
  readonly from_seq: number;
  readonly to_seq: number;
  readonly frames: number;
  /** Where the gap starts in the track's audio, in ms (null for opus). */
  readonly at_ms: number | null;
  /** Silence put in its place, in ms (0 when not filled). */
  readonly filled_ms: number;
  /** The stream's start was not read and the gap runs from the seq it is known to start at (telephony: 1). */
  readonly leading?: true;
}

export interface CallEvent {
  readonly type: 'dtmf' | 'mark';
  readonly space: string;
  readonly stream_id: string;
  readonly digit?: string;
  readonly duration_ms?: number;
  readonly name?: string;
  /** The highest frame of its space taken before it (first_seq - 1 when none). */
  readonly after_seq: number;
  /** Its position in the track's audio, in ms (null for opus). */
  readonly at_ms: number | null;
  readonly received_at: string;
}

export interface AssembledTrack {
  readonly space: string;
  /** Twilio's `inbound`/`outbound`; null for a native or Exotel stream. */
  readonly track: string | null;
  readonly stream_ids: readonly string[];
  readonly encoding: Encoding;
  readonly sample_rate: number;
  readonly channels: number;
  readonly first_seq: number;
  readonly last_seq: number;
  /** Frames found (each seq once). */
  readonly frames: number;
  /** The audio, frames in seq order, gaps filled as asked. */
  readonly audio: Buffer;
  readonly duration_ms: number | null;
  /** The last `stream_ended` reason of each connection, in order. */
  readonly end_reasons: readonly string[];
  /**
   * The stream the track belongs to: a telephony stream (Twilio's streamSid, whose inbound and outbound
   * tracks pair as stereo; an Exotel stream id) or the native interaction.
   */
  readonly stream: string;
  /** Whether its start was read: a `stream_started` at or before the first frame read. */
  readonly start_read: boolean;
  /** `received_at` of its first `stream_started` and of its last `stream_ended` (null when not read). */
  readonly started_at: string | null;
  readonly ended_at: string | null;
}

export interface AssembledCall {
  readonly tenant_id: string;
  readonly interaction_id: string;
  readonly source: Source;
  /** Each connection's `stream_started` metadata, by stream id. */
  readonly metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly tracks: readonly AssembledTrack[];
  readonly events: readonly CallEvent[];
  readonly gaps: readonly Gap[];
  readonly missing_frames: number;
  /** Frame copies removed (a seq taken already). */
  readonly duplicate_frames: number;
  /** Records that added nothing: every frame a copy, or a repeated started/ended/dtmf/mark. */
  readonly duplicate_records: number;
  /** Frames that came after a higher seq of their space. */
  readonly out_of_order_frames: number;
  readonly records: number;
  /** Whether the call's end was read: every track's last connection ended for good (docs/consumer.md). */
  readonly ended: boolean;
  /** Whether every track's start was read (false: joined mid-call, or cut by a time range). */
  readonly start_read: boolean;
  /** Backend positions of every record read for the call (what a consumer group acknowledges). */
  readonly positions: readonly string[];
}

/** Native end reasons after which the client does not resume; other reasons may be followed by a resume. */
const FINAL_NATIVE_REASONS = new Set(['stop', 'idle_timeout']);

export interface AssembleOptions {
  /** Fill gaps with silence (default true): the audio keeps its timeline, the gaps are still reported. */
  readonly fillGaps?: boolean;
}

interface Format {
  readonly encoding: Encoding;
  readonly sample_rate: number;
  readonly channels: number;
}

interface PendingEvent {
  readonly record: Extract<ConsumedRecord, { type: 'dtmf' | 'mark' }>;
  readonly afterSeq: number;
}

class SpaceState {
  readonly frames = new Map<number, Buffer>();
  readonly streamIds: string[] = [];
  readonly endReasons = new Map<string, string>();
  readonly events: PendingEvent[] = [];
  format: Format | undefined;
  firstSeq: number | undefined;
  startedAt: string | undefined;
  endedAt: string | undefined;
  /** When its first record was added, for the order of streams whose start was not read. */
  readonly arrival: number;
  lowest = Infinity;
  highest = -Infinity;
  lastSeq = -Infinity;
  track: string | null = null;

  constructor(
    readonly space: string,
    readonly stream: string,
    arrival: number,
  ) {
    this.arrival = arrival;
  }

  noteStream(streamId: string): void {
    if (!this.streamIds.includes(streamId)) this.streamIds.push(streamId);
  }
}

/** One call's records, added in backend order; `assemble()` gives the call as it stands. */
export class CallAssembly {
  private readonly spaces = new Map<string, SpaceState>();
  private readonly seenOnce = new Set<string>();
  private readonly metadata: Record<string, Readonly<Record<string, unknown>>> = {};
  private readonly positions: string[] = [];
  private duplicateFrames = 0;
  private duplicateRecords = 0;
  private outOfOrder = 0;
  private tenant = '';
  private source: Source = 'native';
  /** When the last record was added (ms since the epoch, the caller's clock). */
  lastActivity = 0;

  constructor(readonly interactionId: string) {}

  get tenantId(): string {
    return this.tenant;
  }

  get records(): number {
    return this.positions.length;
  }

  /** Backend positions of the records read so far (without assembling the call). */
  readPositions(): readonly string[] {
    return this.positions;
  }

  add(record: ConsumedRecord, now = Date.now()): void {
    this.lastActivity = now;
    this.positions.push(record.position);
    this.tenant ||= record.tenant_id;
    this.source = record.source;
    const spaceId = record.source === 'native' ? record.interaction_id : record.stream_id;
    let state = this.spaces.get(spaceId);
    if (!state) {
      state = new SpaceState(spaceId, streamOf(record), this.spaces.size);
      this.spaces.set(spaceId, state);
    }
    state.noteStream(record.stream_id);
    switch (record.type) {
      case 'stream_started':
        if (!this.once(`${record.stream_id}\0started`)) return;
        this.metadata[record.stream_id] = record.metadata;
        state.format ??= { encoding: record.encoding, sample_rate: record.sample_rate, channels: record.channels };
        state.firstSeq = Math.min(state.firstSeq ?? Infinity, record.first_seq);
        if (state.startedAt === undefined || record.received_at < state.startedAt) state.startedAt = record.received_at;
        if (record.source === 'twilio') state.track = trackName(record.metadata, record.stream_id);
        return;
      case 'stream_ended':
        if (!this.once(`${record.stream_id}\0ended`)) return;
        state.endReasons.set(record.stream_id, record.reason);
        state.lastSeq = Math.max(state.lastSeq, record.last_seq);
        if (state.endedAt === undefined || record.received_at > state.endedAt) state.endedAt = record.received_at;
        return;
      case 'dtmf':
      case 'mark': {
        const value = record.type === 'dtmf' ? record.digit : record.name;
        if (!this.once(JSON.stringify([record.stream_id, record.type, value, record.received_at]))) return;
        state.events.push({ record, afterSeq: Number.isFinite(state.highest) ? state.highest : NaN });
        return;
      }
      case 'audio':
        this.addAudio(state, record);
    }
  }

  private once(key: string): boolean {
    if (this.seenOnce.has(key)) {
      this.duplicateRecords++;
      return false;
    }
    this.seenOnce.add(key);
    return true;
  }

  private addAudio(state: SpaceState, record: AudioRecord): void {
    state.format ??= { encoding: record.encoding, sample_rate: record.sample_rate, channels: record.channels };
    if (record.source === 'twilio' && state.track === null) state.track = trackName({}, record.stream_id);
    let offset = 0;
    let taken = 0;
    for (let i = 0; i < record.frames; i++) {
      const seq = record.seq_start + i;
      const size = record.frame_sizes[i];
      const frame = record.payload.subarray(offset, offset + size);
      offset += size;
      if (state.frames.has(seq)) {
        this.duplicateFrames++;
        continue;
      }
      if (seq < state.highest) this.outOfOrder++;
      state.frames.set(seq, frame);
      state.lowest = Math.min(state.lowest, seq);
      state.highest = Math.max(state.highest, seq);
      taken++;
    }
    state.lastSeq = Math.max(state.lastSeq, record.seq_end);
    if (taken === 0 && record.frames > 0) this.duplicateRecords++;
  }

  /** Whether the call has ended for good: every track ended, native ones with a reason that is final. */
  get ended(): boolean {
    if (this.spaces.size === 0) return false;
    for (const state of this.spaces.values()) {
      const last = state.streamIds.at(-1);
      const reason = last === undefined ? undefined : state.endReasons.get(last);
      if (reason === undefined) return false;
      if (this.source === 'native' && !FINAL_NATIVE_REASONS.has(reason)) return false;
    }
    return true;
  }

  /** Whether every track's last connection has a `stream_ended`, final or not (a native one may resume). */
  get quiet(): boolean {
    for (const state of this.spaces.values()) {
      const last = state.streamIds.at(-1);
      if (last === undefined || !state.endReasons.has(last)) return false;
    }
    return this.spaces.size > 0;
  }

  assemble(options: AssembleOptions = {}): AssembledCall {
    const fill = options.fillGaps ?? true;
    const tracks: AssembledTrack[] = [];
    const gaps: Gap[] = [];
    const events: CallEvent[] = [];
    for (const state of this.orderedSpaces()) {
      const built = buildTrack(state, fill, this.source);
      if (built) {
        tracks.push(built.track);
        gaps.push(...built.gaps);
      }
      for (const { record, afterSeq } of state.events) {
        const first = state.firstSeq ?? (Number.isFinite(state.lowest) ? state.lowest : 1);
        const after = Number.isNaN(afterSeq) ? first - 1 : afterSeq;
        events.push({
          type: record.type,
          space: state.space,
          stream_id: record.stream_id,
          ...(record.type === 'dtmf'
            ? { digit: record.digit, ...(record.duration_ms === undefined ? {} : { duration_ms: record.duration_ms }) }
            : { name: record.name }),
          after_seq: after,
          at_ms: built ? built.msAfter(after) : null,
          received_at: record.received_at,
        });
      }
    }
    return {
      tenant_id: this.tenant,
      interaction_id: this.interactionId,
      source: this.source,
      metadata: { ...this.metadata },
      tracks,
      events,
      gaps,
      missing_frames: gaps.reduce((n, g) => n + g.frames, 0),
      duplicate_frames: this.duplicateFrames,
      duplicate_records: this.duplicateRecords,
      out_of_order_frames: this.outOfOrder,
      records: this.positions.length,
      ended: this.ended,
      start_read: tracks.every((t) => t.start_read),
      positions: [...this.positions],
    };
  }

  /**
   * Streams in the order they started (by their `stream_started`; those whose start was not read after,
   * in the order they came), and within a stream Twilio's inbound track first and outbound second.
   */
  private orderedSpaces(): SpaceState[] {
    const spaces = [...this.spaces.values()];
    const streamStart = new Map<string, { at: string; arrival: number }>();
    for (const s of spaces) {
      const known = streamStart.get(s.stream);
      const at = s.startedAt ?? '\uffff';
      if (!known || at < known.at || (at === known.at && s.arrival < known.arrival))
        streamStart.set(s.stream, { at, arrival: s.arrival });
    }
    const rank = (s: SpaceState): number => (s.track === 'inbound' ? 0 : s.track === 'outbound' ? 1 : 2);
    return spaces.sort((a, b) => {
      const sa = streamStart.get(a.stream)!;
      const sb = streamStart.get(b.stream)!;
      if (a.stream !== b.stream) return sa.at < sb.at ? -1 : sa.at > sb.at ? 1 : sa.arrival - sb.arrival;
      return rank(a) - rank(b);
    });
  }

  /** What stays known of the call once it was written: enough to tell a later record that repeats it. */
  summary(): ClosedCall {
    const spaces = new Map<string, Array<[number, number]>>();
    for (const state of this.spaces.values()) {
      const runs: Array<[number, number]> = [];
      for (const seq of [...state.frames.keys()].sort((a, b) => a - b)) {
        const run = runs.at(-1);
        if (run && run[1] === seq - 1) run[1] = seq;
        else runs.push([seq, seq]);
      }
      spaces.set(state.space, runs);
    }
    return new ClosedCall(spaces, new Set(this.seenOnce));
  }
}

/**
 * A call already written: its frames as runs of seqs and its other records'
 * keys, so that a record that only repeats them (a late duplicate, a resumed
 * stream's overlap) is recognised rather than starting the call again.
 */
export class ClosedCall {
  constructor(
    private readonly frames: ReadonlyMap<string, ReadonlyArray<readonly [number, number]>>,
    private readonly keys: ReadonlySet<string>,
  ) {}

  /** Whether the record adds nothing to what was written. */
  repeats(record: ConsumedRecord): boolean {
    switch (record.type) {
      case 'stream_started':
        return this.keys.has(`${record.stream_id}\0started`);
      case 'stream_ended':
        return this.keys.has(`${record.stream_id}\0ended`);
      case 'dtmf':
      case 'mark': {
        const value = record.type === 'dtmf' ? record.digit : record.name;
        return this.keys.has(JSON.stringify([record.stream_id, record.type, value, record.received_at]));
      }
      case 'audio': {
        const runs = this.frames.get(record.source === 'native' ? record.interaction_id : record.stream_id) ?? [];
        return runs.some(([from, to]) => from <= record.seq_start && record.seq_end <= to);
      }
    }
  }
}

/** The stream a record belongs to: Twilio's streamSid (its tracks are `<streamSid>:<track>`), else its stream. */
function streamOf(record: ConsumedRecord): string {
  if (record.source === 'native') return record.interaction_id;
  if (record.source !== 'twilio') return record.stream_id;
  const colon = record.stream_id.lastIndexOf(':');
  return colon > 0 ? record.stream_id.slice(0, colon) : record.stream_id;
}

function trackName(metadata: Readonly<Record<string, unknown>>, streamId: string): string {
  if (typeof metadata.track === 'string') return metadata.track;
  const colon = streamId.lastIndexOf(':');
  return colon >= 0 ? streamId.slice(colon + 1) : streamId;
}

/** Bytes per millisecond of audio as sent (null for opus, whose frames have no fixed rate of bytes). */
function bytesPerMs(format: Format): number | null {
  if (format.encoding === 'opus') return null;
  return (format.sample_rate * format.channels * bytesPerSample(format.encoding)) / 1000;
}

/** The seq a telephony stream starts at (the service numbers its chunks from 1); a native client chooses its own. */
const TELEPHONY_FIRST_SEQ = 1;

function buildTrack(
  state: SpaceState,
  fill: boolean,
  source: Source,
): { track: AssembledTrack; gaps: Gap[]; msAfter: (seq: number) => number | null } | undefined {
  const format = state.format;
  if (!format) return undefined;
  const rate = bytesPerMs(format);
  const lowest = Number.isFinite(state.lowest) ? state.lowest : undefined;
  const startRead = state.firstSeq !== undefined && (lowest === undefined || state.firstSeq <= lowest);
  // Without its stream_started, a telephony stream is still known to start at 1: what is missing before is a gap.
  const knownFirst = source === 'native' ? undefined : TELEPHONY_FIRST_SEQ;
  const first = state.firstSeq ?? (knownFirst !== undefined && lowest !== undefined ? knownFirst : (lowest ?? 1));
  const last = Math.max(state.lastSeq, first - 1);
  const parts: Buffer[] = [];
  const gaps: Gap[] = [];
  /** Bytes of audio up to and including each seq at which the offset changes (for event positions). */
  const offsets = new Map<number, number>();
  let bytes = 0;
  let found = 0;
  let previousSize: number | undefined;
  for (let seq = first; seq <= last;) {
    const frame = state.frames.get(seq);
    if (frame) {
      parts.push(frame);
      bytes += frame.length;
      offsets.set(seq, bytes);
      previousSize = frame.length;
      found++;
      seq++;
      continue;
    }
    let end = seq;
    while (end + 1 <= last && !state.frames.has(end + 1)) end++;
    const nextSize = state.frames.get(end + 1)?.length;
    const size = previousSize ?? nextSize ?? (rate === null ? 0 : Math.round(rate * 20));
    const fillBytes = fill && format.encoding !== 'opus' ? size * (end - seq + 1) : 0;
    const at = rate === null ? null : bytes / rate;
    if (fillBytes > 0) parts.push(Buffer.alloc(fillBytes, silenceByte(format.encoding)));
    gaps.push({
      space: state.space,
      from_seq: seq,
      to_seq: end,
      frames: end - seq + 1,
      at_ms: at === null ? null : round(at),
      filled_ms: rate === null ? 0 : round(fillBytes / rate),
      ...(!startRead && seq === first && found === 0 ? { leading: true as const } : {}),
    });
    for (let s = seq; s <= end; s++) offsets.set(s, bytes + (fillBytes * (s - seq + 1)) / (end - seq + 1));
    bytes += fillBytes;
    seq = end + 1;
  }
  const audio = Buffer.concat(parts);
  const msAfter = (seq: number): number | null => {
    if (rate === null) return null;
    if (seq < first) return 0;
    return round((offsets.get(Math.min(seq, last)) ?? bytes) / rate);
  };
  return {
    track: {
      space: state.space,
      track: state.track,
      stream_ids: [...state.streamIds],
      encoding: format.encoding,
      sample_rate: format.sample_rate,
      channels: format.channels,
      first_seq: first,
      last_seq: last,
      frames: found,
      audio,
      duration_ms: rate === null ? null : round(audio.length / rate),
      end_reasons: state.streamIds.flatMap((id) => state.endReasons.get(id) ?? []),
      stream: state.stream,
      start_read: startRead,
      started_at: state.startedAt ?? null,
      ended_at: state.endedAt ?? null,
    },
    gaps,
    msAfter,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * Many calls at once: routes each record to its call's assembly (by tenant
 * and interaction id), and hands finished ones over.
 */
export class CallAssembler {
  private readonly calls = new Map<string, CallAssembly>();
  /** Calls taken (written), oldest first, at most `closedLimit`. */
  private readonly closed = new Map<string, ClosedCall>();
  /** Records that only repeated a call already taken. */
  repeated = 0;

  constructor(private readonly closedLimit = 100_000) {}

  /**
   * Adds the record to its call. Undefined when it only repeats a call already
   * taken (a late duplicate): dropped and counted in `repeated`. A record that
   * brings something new for a taken call starts the call again (a later part).
   */
  add(record: ConsumedRecord, now = Date.now()): CallAssembly | undefined {
    const key = callKey(record.tenant_id, record.interaction_id);
    let call = this.calls.get(key);
    if (!call) {
      if (this.closed.get(key)?.repeats(record)) {
        this.repeated++;
        return undefined;
      }
      call = new CallAssembly(record.interaction_id);
      this.calls.set(key, call);
    }
    call.add(record, now);
    return call;
  }

  /** The calls still open, oldest first. */
  open(): CallAssembly[] {
    return [...this.calls.values()];
  }

  /** Removes a call (after it was written), remembering what it held. */
  take(call: CallAssembly): void {
    for (const [key, value] of this.calls) {
      if (value !== call) continue;
      this.calls.delete(key);
      this.closed.delete(key);
      this.closed.set(key, call.summary());
      if (this.closed.size > this.closedLimit) this.closed.delete(this.closed.keys().next().value!);
    }
  }
}

function callKey(tenant: string, interaction: string): string {
  return JSON.stringify([tenant, interaction]);
}
