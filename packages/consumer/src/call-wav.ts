/**
 * The WAV files of an assembled call. A call's tracks belong to streams
 * (AssembledTrack.stream): Twilio's inbound and outbound tracks of one
 * streamSid are one stream and become the left and right channels, aligned by
 * chunk number (the later one led by silence, the shorter padded). Streams
 * that follow each other in time (the next started after the previous one
 * ended) are joined one after the other into the main file; a stream that
 * overlaps the ones before it cannot share their timeline and gets a file of
 * its own.
 */
import type { AssembledCall, AssembledTrack } from './call-assembler.js';
import { ConsumerError } from './consumer-error.js';
import { bytesPerSample, encodeWav, silenceByte, type WavOutput } from './wav-encoder.js';

/** One stream of a call: its tracks, its number (1, 2, … in the order streams started). */
export interface CallStream {
  readonly stream: string;
  readonly number: number;
  readonly tracks: readonly AssembledTrack[];
}

/** Where a stream is in the file that holds it. */
export interface PlacedStream {
  readonly stream: string;
  readonly number: number;
  /** Where its audio starts in the file, in ms. */
  readonly offset_ms: number;
}

export interface CallWavLayout {
  /** The streams joined in the main file, in order. */
  readonly main: readonly CallStream[];
  /** Streams that overlap the main file's: a file each. */
  readonly separate: readonly CallStream[];
}

/** The call's streams with audio, in the order they started. */
export function callStreams(call: AssembledCall): CallStream[] {
  const streams: CallStream[] = [];
  for (const track of call.tracks) {
    if (track.frames === 0 && track.audio.length === 0) continue;
    const known = streams.find((s) => s.stream === track.stream);
    if (known) (known.tracks as AssembledTrack[]).push(track);
    else streams.push({ stream: track.stream, number: streams.length + 1, tracks: [track] });
  }
  return streams;
}

/** Which streams join the main file and which overlap it. */
export function callWavLayout(call: AssembledCall): CallWavLayout {
  const main: CallStream[] = [];
  const separate: CallStream[] = [];
  for (const stream of callStreams(call)) {
    const last = main.at(-1);
    const lastEnd = last ? latest(last.tracks.map((t) => t.ended_at)) : undefined;
    const start = earliest(stream.tracks.map((t) => t.started_at));
    if (!last || (lastEnd !== undefined && start !== undefined && start >= lastEnd)) main.push(stream);
    else separate.push(stream);
  }
  return { main, separate };
}

/** The WAV of these streams joined one after the other, and where each starts. */
export function streamsWav(
  streams: readonly CallStream[],
  output: WavOutput = 'pcm16',
): { wav: Buffer; placed: PlacedStream[] } {
  const tracks = streams.flatMap((s) => s.tracks);
  if (tracks.length === 0) throw new ConsumerError('format_mismatch', 'no audio was read for the call');
  // Channels by track name: Twilio's inbound left and outbound right; other streams have one (null).
  const names = [...new Set(tracks.map((t) => t.track))].sort((a, b) => rank(a) - rank(b));
  const perChannel = names.map((): Buffer[] => []);
  const placed: PlacedStream[] = [];
  let bytes = 0;
  const first = tracks[0];
  const rate =
    first.encoding === 'opus' ? 0 : (first.sample_rate * first.channels * bytesPerSample(first.encoding)) / 1000;
  for (const stream of streams) {
    placed.push({ stream: stream.stream, number: stream.number, offset_ms: rate ? round(bytes / rate) : 0 });
    const aligned = alignedTracks(stream.tracks);
    const length = Math.max(...aligned.map((a) => a.audio.length));
    names.forEach((name, channel) => {
      const track = aligned.find((a) => a.track.track === name);
      const audio = track?.audio ?? Buffer.alloc(0);
      const pad = length - audio.length;
      const silence = silenceByte(track?.track.encoding ?? first.encoding);
      perChannel[channel].push(audio, Buffer.alloc(pad, silence));
    });
    bytes += length;
  }
  const wav = encodeWav(
    names.map((name, channel) => {
      const t = tracks.find((track) => track.track === name)!;
      return {
        encoding: t.encoding,
        sampleRate: t.sample_rate,
        channels: t.channels,
        audio: Buffer.concat(perChannel[channel]),
      };
    }),
    output,
  );
  return { wav, placed };
}

/** The main WAV file of a call (the streams that follow each other; see `callWavLayout` for the others). */
export function callWav(call: AssembledCall, output: WavOutput = 'pcm16'): Buffer {
  const layout = callWavLayout(call);
  if (layout.main.length === 0)
    throw new ConsumerError('format_mismatch', `${call.interaction_id}: no audio was read for the call`);
  return streamsWav(layout.main, output).wav;
}

/** A stream's tracks aligned by chunk number: one that starts later is led by silence. */
function alignedTracks(tracks: readonly AssembledTrack[]): Array<{ track: AssembledTrack; audio: Buffer }> {
  const first = Math.min(...tracks.map((t) => t.first_seq));
  return tracks.map((t) => {
    const lead = t.first_seq - first;
    const frameBytes = t.frames > 0 ? Math.round(t.audio.length / (t.last_seq - t.first_seq + 1)) : 0;
    const audio =
      lead > 0 && tracks.length > 1
        ? Buffer.concat([Buffer.alloc(lead * frameBytes, silenceByte(t.encoding)), t.audio])
        : t.audio;
    return { track: t, audio };
  });
}

function rank(track: string | null): number {
  return track === 'inbound' ? 0 : track === 'outbound' ? 1 : 2;
}

function earliest(times: ReadonlyArray<string | null>): string | undefined {
  const known = times.filter((t): t is string => t !== null).sort();
  return known.length === times.length ? known[0] : undefined;
}

function latest(times: ReadonlyArray<string | null>): string | undefined {
  const known = times.filter((t): t is string => t !== null).sort();
  return known.length === times.length ? known.at(-1) : undefined;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
