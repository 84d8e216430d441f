/**
 * WAV files and G.711 (packages/consumer/src/wav-encoder.ts, g711.ts): known
 * G.711 values, PCM kept as sent, mu-law decoded or kept (format 7), two mono
 * tracks as stereo, opus refused; every file read back by the loadgen's WAV reader.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  alawToLinear,
  ConsumerError,
  encodeWav,
  expandG711,
  mulawToLinear,
} from '../../../packages/consumer/src/index';
import { parseWav } from '../../../src/client/loadgen/wav-file';

test('G.711 mu-law and A-law expand to their standard 16-bit values', () => {
  // ITU-T G.711 table values: the extremes, the two zeros, and a step of each segment.
  assert.deepEqual([0x00, 0x7f, 0x80, 0xff, 0x0f, 0x8f].map(mulawToLinear), [-32124, 0, 32124, 0, -16764, 16764]);
  assert.deepEqual([0x55, 0xd5, 0x2a, 0xaa, 0x00, 0x80].map(alawToLinear), [-8, 8, -32256, 32256, -5504, 5504]);
  const pcm = expandG711('mulaw', Uint8Array.from([0x00, 0xff]));
  assert.deepEqual([pcm.readInt16LE(0), pcm.readInt16LE(2)], [-32124, 0]);
});

test('PCM is written as sent; mu-law decoded to 16-bit, or kept as format 7', () => {
  const pcm = Buffer.from([1, 2, 3, 4]);
  const wav = parseWav(encodeWav([{ encoding: 'pcm_s16le', sampleRate: 16000, channels: 1, audio: pcm }]));
  assert.deepEqual([wav.encoding, wav.sampleRate, wav.channels], ['pcm_s16le', 16000, 1]);
  assert.deepEqual(wav.data, pcm);
  const mulaw = Buffer.from([0x00, 0x80, 0xff]);
  const decoded = parseWav(encodeWav([{ encoding: 'mulaw', sampleRate: 8000, channels: 1, audio: mulaw }]));
  assert.equal(decoded.encoding, 'pcm_s16le');
  assert.deepEqual(decoded.data, expandG711('mulaw', mulaw));
  const kept = parseWav(encodeWav([{ encoding: 'mulaw', sampleRate: 8000, channels: 1, audio: mulaw }], 'as_sent'));
  assert.equal(kept.encoding, 'mulaw');
  assert.deepEqual(kept.data, mulaw, 'odd-sized data is padded after the chunk, not inside it');
});

test('two mono tracks become one stereo file, the shorter padded with silence', () => {
  const left = Buffer.from([0x00, 0x10]);
  const right = Buffer.from([0x20]);
  const wav = parseWav(
    encodeWav(
      [
        { encoding: 'mulaw', sampleRate: 8000, channels: 1, audio: left },
        { encoding: 'mulaw', sampleRate: 8000, channels: 1, audio: right },
      ],
      'as_sent',
    ),
  );
  assert.equal(wav.channels, 2);
  assert.deepEqual([...wav.data], [0x00, 0x20, 0x10, 0xff]);
});

test('opus cannot be a WAV: refused with format_unsupported', () => {
  assert.throws(
    () => encodeWav([{ encoding: 'opus', sampleRate: 48000, channels: 1, audio: Buffer.alloc(10) }]),
    (err: unknown) => err instanceof ConsumerError && err.code === 'format_unsupported' && /opus/.test(err.message),
  );
});

test('audio too long for a WAV (4 GiB) is refused with format_unsupported before anything is expanded', () => {
  // Only the length is read before the refusal: a stand-in spares the test 4 GiB of memory.
  const huge = { length: 2 ** 31 } as unknown as Buffer;
  assert.throws(
    () => encodeWav([{ encoding: 'mulaw', sampleRate: 8000, channels: 1, audio: huge }]),
    (error: unknown) => error instanceof ConsumerError && error.code === 'format_unsupported',
  );
});
