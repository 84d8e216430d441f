/**
 * --wav reads 16-bit PCM, mu-law and A-law WAVs (also WAVE_FORMAT_EXTENSIBLE,
 * and past chunks it does not know) and refuses anything else with the reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWav, WavFormatError } from '../../../src/client/loadgen/wav-file';

function wav(tag: number, bits: number, channels: number, rate: number, data: Buffer, extra?: Buffer): Buffer {
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(tag, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE((rate * channels * bits) / 8, 8);
  fmt.writeUInt16LE((channels * bits) / 8, 12);
  fmt.writeUInt16LE(bits, 14);
  const chunk = (id: string, body: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(body.length, 4);
    return Buffer.concat([head, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  };
  const body = Buffer.concat([
    Buffer.from('WAVE'),
    chunk('fmt ', fmt),
    ...(extra ? [chunk('LIST', extra)] : []),
    chunk('data', data),
  ]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

test('16-bit PCM, mu-law and A-law are read with their format and audio, past unknown chunks', () => {
  const data = Buffer.from([1, 2, 3, 4]);
  assert.deepEqual(parseWav(wav(1, 16, 2, 16000, data, Buffer.from('odd'))), {
    encoding: 'pcm_s16le',
    sampleRate: 16000,
    channels: 2,
    bytesPerSample: 2,
    data,
  });
  assert.equal(parseWav(wav(7, 8, 1, 8000, data)).encoding, 'mulaw');
  assert.equal(parseWav(wav(6, 8, 1, 8000, data)).encoding, 'alaw');
});

test('8-bit PCM, float, an empty data chunk or a file that is not RIFF/WAVE are refused', () => {
  assert.throws(() => parseWav(wav(1, 8, 1, 8000, Buffer.from([1]))), WavFormatError);
  assert.throws(() => parseWav(wav(3, 32, 1, 8000, Buffer.alloc(8))), /not 16-bit PCM/);
  assert.throws(() => parseWav(wav(1, 16, 1, 8000, Buffer.alloc(0))), /no audio data/);
  assert.throws(() => parseWav(Buffer.from('not a wav file at all')), /not a RIFF\/WAVE file/);
});
