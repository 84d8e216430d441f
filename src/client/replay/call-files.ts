/**
 * What `ingest-replay` writes for one call: `DIR/<interaction_id>.wav` (when
 * the call has audio that a WAV can hold), `DIR/<interaction_id>.json` (the
 * sidecar: ids, source, metadata, tracks, streams, dtmf and mark with their
 * positions, gaps, duplicates; docs/consumer.md), and its one summary line.
 * Nothing is ever overwritten: a later part of a call already written (in
 * this run or an earlier one) goes to the next free `<id>.part<N>.*`, a
 * stream that overlaps the main file's to `<id>.stream<N>.wav`, and a call
 * whose id another tenant's call holds in the folder is refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  callWavLayout,
  ConsumerError,
  streamsWav,
  type AssembledCall,
  type CallAssembly,
  type PlacedStream,
  type WavOutput,
} from '../../../packages/consumer/src/index';

export interface CallFileOptions {
  readonly out: string;
  readonly wavFormat: WavOutput;
  readonly fillGaps: boolean;
  /** Where the records came from, for the sidecar (without credentials). */
  readonly origin: Readonly<Record<string, string>>;
}

/** Why a call is written before its end was read. */
export type OpenReason = 'idle' | 'end_of_run';

export interface WrittenCall {
  readonly call: AssembledCall;
  readonly line: string;
  readonly gap: boolean;
  /** The call could not be written (opus, tracks of different formats, another tenant's id). */
  readonly failed: boolean;
  /** The call was refused: nothing written (its records must not be acknowledged). */
  readonly refused: boolean;
  /** Why it was refused, for stderr. */
  readonly warning?: string;
}

const SAFE_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

/** The file name stem of an interaction: the id itself when it is a safe name, else percent-encoded. */
export function fileStem(interactionId: string): string {
  if (SAFE_NAME.test(interactionId) && interactionId !== '.' && interactionId !== '..') return interactionId;
  return encodeURIComponent(interactionId).replace(/\./g, '%2E');
}

/** One run's output folder: which names its calls took, and for which tenant. */
export class CallFiles {
  /** Tenant of each stem written in this run. */
  private readonly owners = new Map<string, string>();

  constructor(private readonly options: CallFileOptions) {}

  write(assembly: CallAssembly, open?: OpenReason): WrittenCall {
    const { out } = this.options;
    const call = assembly.assemble({ fillGaps: this.options.fillGaps });
    const stem = fileStem(call.interaction_id);
    const owner = this.owners.get(stem) ?? this.tenantOnDisk(stem);
    if (owner !== undefined && owner !== call.tenant_id) return this.refuse(call, owner);
    this.owners.set(stem, call.tenant_id);
    // The first free part: DIR/<id>.json, then DIR/<id>.part2.json, … (claimed exclusively: never overwritten).
    const earlier: string[] = [];
    let part = 1;
    let name = stem;
    for (;;) {
      if (!fs.existsSync(path.join(out, `${name}.wav`))) {
        try {
          fs.closeSync(fs.openSync(path.join(out, `${name}.json`), 'wx'));
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
      }
      earlier.push(`${name}.json`);
      part++;
      name = `${stem}.part${part}`;
    }
    let wavName: string | null = null;
    let placed: PlacedStream[] = [];
    const separate: Array<PlacedStream & { wav: string }> = [];
    let error: { code: string; message: string } | undefined;
    if (call.tracks.some((t) => t.frames > 0)) {
      try {
        const layout = callWavLayout(call);
        const main = streamsWav(layout.main, this.options.wavFormat);
        const others = layout.separate.map((s) => ({ s, wav: streamsWav([s], this.options.wavFormat).wav }));
        wavName = `${name}.wav`;
        fs.writeFileSync(path.join(out, wavName), main.wav, { flag: 'wx' });
        placed = main.placed;
        for (const { s, wav } of others) {
          const file = `${name}.stream${s.number}.wav`;
          fs.writeFileSync(path.join(out, file), wav, { flag: 'wx' });
          separate.push({ stream: s.stream, number: s.number, offset_ms: 0, wav: file });
        }
      } catch (err) {
        if (!(err instanceof ConsumerError)) throw err;
        error = { code: err.code, message: err.message };
      }
    }
    const frames = call.tracks.reduce((n, t) => n + t.frames, 0);
    const duration = Math.max(0, ...call.tracks.map((t) => t.duration_ms ?? 0));
    const sidecar = {
      interaction_id: call.interaction_id,
      tenant_id: call.tenant_id,
      source: call.source,
      origin: this.options.origin,
      part,
      ...(earlier.length > 0 ? { earlier_parts: earlier } : {}),
      ended: call.ended,
      ...(open ? { written_open: open } : {}),
      start_read: call.start_read,
      wav: wavName,
      wav_format: this.options.wavFormat === 'as_sent' ? 'as-sent' : 'pcm16',
      gap_fill: this.options.fillGaps ? 'silence' : 'none',
      ...(error ? { error } : {}),
      duration_ms: duration,
      frames,
      missing_frames: call.missing_frames,
      duplicate_frames: call.duplicate_frames,
      duplicate_records: call.duplicate_records,
      out_of_order_frames: call.out_of_order_frames,
      records: call.records,
      streams: placed.map((p) => ({ ...p, wav: wavName })).concat(separate),
      tracks: call.tracks.map((t) => ({
        channel: null as number | null,
        stream: t.stream,
        space: t.space,
        track: t.track,
        stream_ids: t.stream_ids,
        start_read: t.start_read,
        started_at: t.started_at,
        ended_at: t.ended_at,
        encoding: t.encoding,
        sample_rate: t.sample_rate,
        channels: t.channels,
        first_seq: t.first_seq,
        last_seq: t.last_seq,
        frames: t.frames,
        duration_ms: t.duration_ms,
        end_reasons: t.end_reasons,
      })),
      metadata: call.metadata,
      events: call.events,
      gaps: call.gaps,
    };
    // The main file's channels: Twilio's inbound left, outbound right when both are in it.
    const names = [
      ...new Set(call.tracks.filter((t) => placed.some((p) => p.stream === t.stream)).map((t) => t.track)),
    ];
    if (names.length > 1)
      for (const t of sidecar.tracks) t.channel = names.includes(t.track) ? (t.track === 'outbound' ? 1 : 0) : null;
    fs.writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify(sidecar, null, 2)}\n`);
    const line = [
      call.interaction_id,
      `tenant=${call.tenant_id}`,
      `source=${call.source}`,
      `frames=${frames}`,
      `duration=${(duration / 1000).toFixed(3)}s`,
      `duplicates_removed=${call.duplicate_frames}`,
      `gaps=${call.gaps.length}`,
      `missing_frames=${call.missing_frames}`,
      `ended=${call.ended ? 'yes' : open === 'idle' ? 'no(idle)' : 'no'}`,
      ...(call.start_read ? [] : ['start_read=no']),
      ...(part > 1 ? [`part=${part}`] : []),
      `wav=${wavName ?? '-'}`,
      ...(separate.length > 0 ? [`streams=${separate.map((s) => s.wav).join(',')}`] : []),
      ...(error ? [`error=${error.code}`] : []),
    ].join(' ');
    return { call, line, gap: call.gaps.length > 0, failed: error !== undefined, refused: false };
  }

  private refuse(call: AssembledCall, owner: string): WrittenCall {
    const line = [
      call.interaction_id,
      `tenant=${call.tenant_id}`,
      `source=${call.source}`,
      'wav=-',
      'error=tenant_conflict',
    ].join(' ');
    const message =
      `${call.interaction_id}: tenant ${call.tenant_id}'s call was not written: ${this.options.out} holds ` +
      `tenant ${owner}'s call of the same id; run again with --tenant ${call.tenant_id} into another --out`;
    return { call, line, gap: false, failed: true, refused: true, warning: message };
  }

  /** The tenant of an earlier run's call in the folder under this stem, if any. */
  private tenantOnDisk(stem: string): string | undefined {
    try {
      const sidecar = JSON.parse(fs.readFileSync(path.join(this.options.out, `${stem}.json`), 'utf8')) as unknown;
      const tenant = (sidecar as { tenant_id?: unknown }).tenant_id;
      return typeof tenant === 'string' ? tenant : undefined;
    } catch {
      return undefined;
    }
  }
}
