/**
 * Writes 16-bit PCM WAV files for tests that feed audio to something that
 * reads files (the browser demo's file input, Chromium's fake capture device),
 * and the tone they use: samples the test can predict exactly.
 */
import fs from 'node:fs';

/** A canonical 44-byte-header RIFF/WAVE file around `pcm` (16-bit little-endian samples, interleaved). */
export function wavBytes(pcm: Buffer, sampleRate: number, channels = 1): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVE', 8, 'latin1');
  header.write('fmt ', 12, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

/**
 * Mono 16-bit PCM: a sine of `frequency` Hz at `amplitude` (of 32767) with a
 * small sawtooth of period 7 added, so that no two periods are alike and a
 * sample out of place shows.
 */
export function tonePcm(seconds: number, sampleRate: number, frequency: number, amplitude = 10_000): Buffer {
  const samples = Math.round(seconds * sampleRate);
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    pcm.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * frequency * i) / sampleRate)) + (i % 7), i * 2);
  }
  return pcm;
}

export function writeWav(file: string, pcm: Buffer, sampleRate: number, channels = 1): void {
  fs.writeFileSync(file, wavBytes(pcm, sampleRate, channels));
}
