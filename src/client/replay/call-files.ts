/**
 * What `ingest-replay` writes for one call: `DIR/<interaction_id>.wav` (when
 * the call has audio that a WAV can hold), `DIR/<interaction_id>.json` (the
 * sidecar: ids, source, metadata, tracks, dtmf and mark with their positions,
 * gaps, duplicates; docs/consumer.md), and its one summary line.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  callWav,
  ConsumerError,
  type AssembledCall,
  type CallAssembly,
  type WavOutput,
} from '../../../packages/consumer/src/index';

export interface CallFileOptions {
  readonly out: string;
  readonly wavFormat: WavOutput;
  readonly fillGaps: boolean;
  /** Where the records came from, for the sidecar. */
  readonly origin: Readonly<Record<string, string>>;
}

export interface WrittenCall {
  readonly call: AssembledCall;
  readonly line: string;
  readonly gap: boolean;
  /** The call could not be written as WAV (opus, tracks of different formats). */
  readonly failed: boolean;
}

const SAFE_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

/** The file name stem of an interaction: the id itself when it is a safe name, else percent-encoded. */
export function fileStem(interactionId: string): string {
  if (SAFE_NAME.test(interactionId) && interactionId !== '.' && interactionId !== '..') return interactionId;
  return encodeURIComponent(interactionId).replace(/\./g, '%2E');
}

export function writeCall(assembly: CallAssembly, options: CallFileOptions): WrittenCall {
  const call = assembly.assemble({ fillGaps: options.fillGaps });
  const stem = fileStem(call.interaction_id);
  let wavName: string | null = null;
  let error: { code: string; message: string } | undefined;
  if (call.tracks.some((t) => t.frames > 0)) {
    try {
      const wav = callWav(call, options.wavFormat);
      wavName = `${stem}.wav`;
      fs.writeFileSync(path.join(options.out, wavName), wav);
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
    origin: options.origin,
    ended: call.ended,
    wav: wavName,
    wav_format: options.wavFormat === 'as_sent' ? 'as-sent' : 'pcm16',
    gap_fill: options.fillGaps ? 'silence' : 'none',
    ...(error ? { error } : {}),
    duration_ms: duration,
    frames,
    missing_frames: call.missing_frames,
    duplicate_frames: call.duplicate_frames,
    duplicate_records: call.duplicate_records,
    out_of_order_frames: call.out_of_order_frames,
    records: call.records,
    tracks: call.tracks.map((t, channel) => ({
      channel: call.tracks.length > 1 ? channel : null,
      space: t.space,
      track: t.track,
      stream_ids: t.stream_ids,
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
  fs.writeFileSync(path.join(options.out, `${stem}.json`), `${JSON.stringify(sidecar, null, 2)}\n`);
  const line = [
    call.interaction_id,
    `tenant=${call.tenant_id}`,
    `source=${call.source}`,
    `frames=${frames}`,
    `duration=${(duration / 1000).toFixed(3)}s`,
    `duplicates_removed=${call.duplicate_frames}`,
    `gaps=${call.gaps.length}`,
    `missing_frames=${call.missing_frames}`,
    `ended=${call.ended ? 'yes' : 'no'}`,
    `wav=${wavName ?? '-'}`,
    ...(error ? [`error=${error.code}`] : []),
  ].join(' ');
  return { call, line, gap: call.gaps.length > 0, failed: error !== undefined };
}
