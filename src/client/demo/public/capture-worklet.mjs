/**
 * The AudioWorklet processor 'pcm-capture': takes its input (downmixed to mono
 * by the node's channelCount 1), resamples it from the context's rate to
 * 16 kHz 16-bit PCM (pcm-resampler.mjs: identity at 16 kHz) and posts 20 ms
 * frames (640 bytes) to the page with their level. It ends, posting the last,
 * shorter frame and then `end`, after processorOptions.totalFrames input
 * samples (a decoded file) or when the page posts `flush` (the microphone).
 *
 * Messages to the page: { type: 'frame', pcm: ArrayBuffer, rmsDb, peakDb }
 * and { type: 'end', inputs, outputs } (sample counts in and out).
 */
import { pcmLevel } from './pcm-level.mjs';
import { PcmResampler } from './pcm-resampler.mjs';

export const OUTPUT_RATE = 16000;
const FRAME_SAMPLES = OUTPUT_RATE / 50;

class PcmCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const total = options.processorOptions?.totalFrames;
    this.remaining = Number.isInteger(total) ? total : Infinity;
    // sampleRate: the AudioWorkletGlobalScope's, i.e. the context's rate.
    this.resampler = new PcmResampler(sampleRate, OUTPUT_RATE);
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.filled = 0;
    this.ended = false;
    this.port.onmessage = (event) => {
      if (event.data?.type === 'flush') this.finish();
    };
  }

  process(inputs) {
    if (this.ended) return false;
    const channel = inputs[0]?.[0];
    // No channel: nothing is connected (yet, or any more); that is not audio, not even silence.
    if (channel && this.remaining > 0) {
      const take = Math.min(channel.length, this.remaining);
      this.remaining -= take;
      this.collect(this.resampler.push(take === channel.length ? channel : channel.subarray(0, take)));
    }
    if (this.remaining === 0) this.finish();
    return !this.ended;
  }

  collect(samples) {
    for (let at = 0; at < samples.length;) {
      const n = Math.min(FRAME_SAMPLES - this.filled, samples.length - at);
      this.frame.set(samples.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === FRAME_SAMPLES) this.post();
    }
  }

  post() {
    const pcm = this.frame.slice(0, this.filled);
    this.filled = 0;
    const { rmsDb, peakDb } = pcmLevel(pcm);
    this.port.postMessage({ type: 'frame', pcm: pcm.buffer, rmsDb, peakDb }, [pcm.buffer]);
  }

  finish() {
    if (this.ended) return;
    this.ended = true;
    this.collect(this.resampler.flush());
    if (this.filled > 0) this.post();
    this.port.postMessage({ type: 'end', inputs: this.resampler.inputs, outputs: this.resampler.outputs });
  }
}

registerProcessor('pcm-capture', PcmCaptureProcessor);
