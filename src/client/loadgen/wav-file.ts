/**
 * Reads a WAV file's format and audio for `--wav`: RIFF/WAVE with a `fmt `
 * chunk of PCM 16-bit, mu-law or A-law (WAVE_FORMAT_EXTENSIBLE included), and
 * its `data` chunk. Anything else is refused with the reason.
 */
import { readFileSync } from 'node:fs';

export interface WavAudio {
  readonly encoding: 'pcm_s16le' | 'mulaw' | 'alaw';
  readonly sampleRate: number;
  readonly channels: number;
  readonly bytesPerSample: number;
  readonly data: Buffer;
}

const FORMAT_PCM = 1;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

export class WavFormatError extends Error {
  readonly code = 'wav_unsupported';
}

export function readWav(file: string): WavAudio {
  return parseWav(readFileSync(file), file);
}

export function parseWav(bytes: Buffer, name = 'WAV'): WavAudio {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WAVE')
    throw new WavFormatError(`${name} is not a RIFF/WAVE file`);
  let format: { tag: number; channels: number; sampleRate: number; bits: number } | undefined;
  let data: Buffer | undefined;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = bytes.toString('latin1', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    const body = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + size));
    if (id === 'fmt ' && body.length >= 16) {
      let tag = body.readUInt16LE(0);
      if (tag === FORMAT_EXTENSIBLE && body.length >= 26) tag = body.readUInt16LE(24);
      format = { tag, channels: body.readUInt16LE(2), sampleRate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
    } else if (id === 'data') data = body;
    at += 8 + size + (size % 2); // chunks are word-aligned
  }
  if (!format) throw new WavFormatError(`${name} has no fmt chunk`);
  if (!data || data.length === 0) throw new WavFormatError(`${name} has no audio data`);
  const encoding =
    format.tag === FORMAT_PCM && format.bits === 16
      ? 'pcm_s16le'
      : format.tag === FORMAT_MULAW && format.bits === 8
        ? 'mulaw'
        : format.tag === FORMAT_ALAW && format.bits === 8
          ? 'alaw'
          : undefined;
  if (!encoding)
    throw new WavFormatError(
      `${name}: format ${format.tag} with ${format.bits} bits is not 16-bit PCM, mu-law or A-law`,
    );
  if (format.channels < 1 || format.channels > 2) throw new WavFormatError(`${name}: ${format.channels} channels`);
  return {
    encoding,
    sampleRate: format.sampleRate,
    channels: format.channels,
    bytesPerSample: format.bits / 8,
    data,
  };
}
