/**
 * Writes audio as a RIFF/WAVE file: 16-bit PCM (format 1), or the companded
 * bytes as they were sent, mu-law (format 7) or A-law (format 6), with the
 * `fact` chunk those formats require. Several mono tracks become one file
 * with a channel each (Twilio's inbound left, outbound right), interleaved
 * sample by sample; a shorter track is padded with silence. Opus has no WAV
 * format: it is refused with `format_unsupported`.
 */
import { ConsumerError } from './consumer-error.js';
import type { Encoding } from './consumed-record.js';
import { expandG711 } from './g711.js';

/** `pcm16`: mu-law and A-law decoded to 16-bit PCM; `as_sent`: companded audio kept as it is. */
export type WavOutput = 'pcm16' | 'as_sent';

export interface WavTrack {
  readonly encoding: Encoding;
  readonly sampleRate: number;
  readonly channels: number;
  readonly audio: Buffer;
}

const FORMAT = { pcm: 1, alaw: 6, mulaw: 7 } as const;

/** The largest header written (RIFF, fmt of 18 bytes, fact, data), plus a pad byte. */
const WAV_HEADER_MAX = 12 + 8 + 18 + 12 + 8 + 1;

/** The byte of silence in each encoding (mu-law 0xFF and A-law 0xD5 decode to zero or next to it). */
export function silenceByte(encoding: Encoding): number {
  return encoding === 'mulaw' ? 0xff : encoding === 'alaw' ? 0xd5 : 0;
}

/** Bytes per sample of one channel as the audio was sent. */
export function bytesPerSample(encoding: Encoding): number {
  if (encoding === 'opus') throw opus();
  return encoding === 'pcm_s16le' ? 2 : 1;
}

/** The WAV file for these tracks (one, or several mono tracks of one format as channels). */
export function encodeWav(tracks: readonly WavTrack[], output: WavOutput = 'pcm16'): Buffer {
  if (tracks.length === 0) throw new ConsumerError('format_mismatch', 'no audio track to write');
  const first = tracks[0];
  for (const track of tracks) {
    if (track.encoding === 'opus') throw opus();
    if (track.encoding !== first.encoding || track.sampleRate !== first.sampleRate)
      throw new ConsumerError(
        'format_mismatch',
        `tracks in ${first.encoding} ${first.sampleRate} Hz and ${track.encoding} ${track.sampleRate} Hz ` +
          'cannot share a file',
      );
    if (tracks.length > 1 && track.channels !== 1)
      throw new ConsumerError('format_mismatch', `a ${track.channels}-channel track cannot be a channel of a file`);
  }
  const keep = output === 'as_sent' || first.encoding === 'pcm_s16le';
  // RIFF sizes are 32-bit: refuse before expanding rather than fail half-way (no RF64 here).
  const longest = Math.max(...tracks.map((t) => t.audio.length));
  const dataBytes = (tracks.length > 1 ? longest * tracks.length : longest) * (keep ? 1 : 2);
  if (dataBytes + WAV_HEADER_MAX > 0xffffffff)
    throw new ConsumerError(
      'format_unsupported',
      `${dataBytes} bytes of audio do not fit a WAV file (4 GiB at most); read the records with the module instead`,
    );
  const samples = tracks.map((t) => (keep ? t.audio : expandG711(first.encoding as 'mulaw' | 'alaw', t.audio)));
  const width = keep ? bytesPerSample(first.encoding) : 2;
  const format = !keep || first.encoding === 'pcm_s16le' ? FORMAT.pcm : FORMAT[first.encoding as 'mulaw' | 'alaw'];
  const channels = tracks.length > 1 ? tracks.length : first.channels;
  const data = tracks.length === 1 ? samples[0] : interleave(samples, width, silenceFor(format, first.encoding));
  return wavFile({ format, channels, sampleRate: first.sampleRate, width }, data);
}

function silenceFor(format: number, encoding: Encoding): number {
  return format === FORMAT.pcm ? 0 : silenceByte(encoding);
}

function interleave(tracks: readonly Buffer[], width: number, silence: number): Buffer {
  const frames = Math.max(...tracks.map((t) => Math.ceil(t.length / width)));
  const out = Buffer.alloc(frames * width * tracks.length, silence);
  tracks.forEach((track, channel) => {
    for (let i = 0; i * width < track.length; i++)
      track.copy(out, (i * tracks.length + channel) * width, i * width, (i + 1) * width);
  });
  return out;
}

interface Format {
  readonly format: number;
  readonly channels: number;
  readonly sampleRate: number;
  readonly width: number;
}

function wavFile(f: Format, data: Buffer): Buffer {
  const pcm = f.format === FORMAT.pcm;
  // Non-PCM formats carry cbSize in fmt (18 bytes) and a fact chunk with the sample count.
  const fmtSize = pcm ? 16 : 18;
  const factSize = pcm ? 0 : 12;
  const pad = data.length % 2;
  const header = Buffer.alloc(12 + 8 + fmtSize + factSize + 8);
  let at = 0;
  at += header.write('RIFF', at, 'latin1');
  at = header.writeUInt32LE(header.length - 8 + data.length + pad, at);
  at += header.write('WAVE', at, 'latin1');
  at += header.write('fmt ', at, 'latin1');
  at = header.writeUInt32LE(fmtSize, at);
  at = header.writeUInt16LE(f.format, at);
  at = header.writeUInt16LE(f.channels, at);
  at = header.writeUInt32LE(f.sampleRate, at);
  at = header.writeUInt32LE(f.sampleRate * f.channels * f.width, at);
  at = header.writeUInt16LE(f.channels * f.width, at);
  at = header.writeUInt16LE(f.width * 8, at);
  if (!pcm) {
    at = header.writeUInt16LE(0, at);
    at += header.write('fact', at, 'latin1');
    at = header.writeUInt32LE(4, at);
    at = header.writeUInt32LE(Math.floor(data.length / (f.channels * f.width)), at);
  }
  at += header.write('data', at, 'latin1');
  header.writeUInt32LE(data.length, at);
  return Buffer.concat([header, data, Buffer.alloc(pad)]);
}

function opus(): ConsumerError {
  return new ConsumerError(
    'format_unsupported',
    'opus audio cannot be written as WAV (WAV has no opus format); read the records with the module instead',
  );
}
