/**
 * The capture worklet's resampler and level meter, run in Node on the same
 * files the browser loads: identity at equal rates, the output independent of
 * how the input is cut, tones kept and aliases removed across rates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tonePcm, wavBytes } from '../../support/wav-writer';
import { pcmLevel, PcmResampler, toInt16, wavFormat } from './demo-scripts';

function sine(rate: number, frequency: number, seconds: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * frequency * i) / rate);
  return out;
}

/** Everything the resampler makes from `input` pushed in chunks of `chunk` samples, then flushed. */
function resample(inRate: number, input: Float32Array, chunk: number): Int16Array {
  const resampler = new PcmResampler(inRate, 16000);
  const parts: number[] = [];
  for (let at = 0; at < input.length; at += chunk) parts.push(...resampler.push(input.subarray(at, at + chunk)));
  parts.push(...resampler.flush());
  return Int16Array.from(parts);
}

/** The largest difference from an ideal sine at 16 kHz, away from the ends (the kernel's zero padding). */
function errorFromSine(out: Int16Array, frequency: number, amplitude: number): number {
  let worst = 0;
  for (let k = 500; k < out.length - 500; k++) {
    worst = Math.max(worst, Math.abs(out[k] - amplitude * 32768 * Math.sin((2 * Math.PI * frequency * k) / 16000)));
  }
  return worst;
}

test('at 16 kHz the resampler is the identity: s16 samples as decodeAudioData gives them come back exactly', () => {
  const pcm = tonePcm(0.5, 16000, 440, 32000);
  const floats = new Float32Array(pcm.length / 2);
  for (let i = 0; i < floats.length; i++) floats[i] = pcm.readInt16LE(i * 2) / 32768;
  floats[1] = -1; // full scale both ways
  floats[2] = 32767 / 32768;
  const out = resample(16000, floats, 128);
  const want = Buffer.from(pcm);
  want.writeInt16LE(-32768, 2);
  want.writeInt16LE(32767, 4);
  assert.ok(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(want));
});

test('float to int16 rounds x * 32768 and clamps to [-32768, 32767]', () => {
  assert.deepEqual([1, 1.5, -1.5, 0.49 / 32768, -0.5 / 32768].map(toInt16), [32767, 32767, -32768, 0, -0]);
  assert.equal(toInt16(100.4 / 32768), 100);
});

for (const inRate of [8000, 22050, 44100, 48000]) {
  test(`${inRate} Hz to 16 kHz: a 440 Hz tone within 2 LSB, ceil(n * 16000 / ${inRate}) samples, any chunking`, () => {
    const input = sine(inRate, 440, 1);
    const out = resample(inRate, input, 128);
    assert.equal(out.length, Math.ceil((input.length * 16000) / inRate));
    assert.ok(errorFromSine(out, 440, 0.5) <= 2, `error ${errorFromSine(out, 440, 0.5)}`);
    for (const chunk of [1, 37, 1000, input.length]) assert.deepEqual(resample(inRate, input, chunk), out);
  });
}

test('48 kHz to 16 kHz: a 12 kHz tone (above the new Nyquist frequency) does not fold back into the output', () => {
  const out = resample(48000, sine(48000, 12000, 0.5), 128);
  assert.ok(pcmLevel(out.subarray(500, -500)).peakDb < -60, `alias at ${pcmLevel(out).peakDb} dBFS`);
});

test('the level meter reads RMS and peak in dBFS', () => {
  const square = Int16Array.from({ length: 320 }, (_, i) => (i % 2 ? 16384 : -16384));
  const { rmsDb, peakDb } = pcmLevel(square);
  assert.ok(Math.abs(rmsDb - -6.02) < 0.01 && Math.abs(peakDb - -6.02) < 0.01, `${rmsDb} ${peakDb}`);
  assert.equal(pcmLevel(new Int16Array(320)).rmsDb, -Infinity);
});

test("the page reads a WAV file's rate and channels from its fmt chunk (after others), and refuses non-WAV", () => {
  const wav = wavBytes(Buffer.alloc(8), 44100, 2);
  const withList = Buffer.concat([
    wav.subarray(0, 12),
    Buffer.from('LIST\x03\x00\x00\x00abc\x00', 'latin1'),
    wav.subarray(12),
  ]);
  assert.deepEqual(wavFormat(withList), { channels: 2, sampleRate: 44100 });
  assert.throws(() => wavFormat(Buffer.from('not a wav file')), /not a RIFF\/WAVE file/);
});
