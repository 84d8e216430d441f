/**
 * Float samples at any rate to 16-bit PCM at another, in a stream: what the
 * capture worklet runs on every render quantum (and the Node tests run alone).
 *
 * Equal rates: no filter at all, each sample converted on its own, so a 16 kHz
 * source comes out byte for byte as it went in. Different rates: windowed-sinc
 * interpolation at exact rational positions. Output sample k sits at input
 * position k·M/L (M/L = inRate/outRate reduced by their gcd), tracked as an
 * integer index and an integer phase (no floating drift, however long the
 * stream); each of the L phases has its own precomputed kernel: a sinc low-pass
 * at 0.9 of the lower Nyquist frequency, Hann-windowed over ±HALF_TAPS zero
 * crossings of the output rate, normalised to unity gain at DC. Samples before
 * the start and after flush() are zeros. The result depends only on the input
 * samples, not on how they were cut into chunks.
 *
 * Float to int16: round(x · 32768) (halves towards +∞, Math.round), clamped to
 * [-32768, 32767]: the exact inverse of the s/32768 that decodeAudioData and
 * the Web Audio graph use for 16-bit PCM.
 */

/** Zero crossings of the kernel on each side, at the lower of the two rates. */
const HALF_TAPS = 16;
/** Pass band edge, as a fraction of the lower rate's Nyquist frequency (the rest is the transition band). */
const CUTOFF = 0.9;

function gcd(a, b) {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** One float sample to int16 (see the header). */
export function toInt16(x) {
  const s = Math.round(x * 32768);
  return s > 32767 ? 32767 : s < -32768 ? -32768 : s;
}

export class PcmResampler {
  /**
   * @param {number} inRate positive integer, samples per second in
   * @param {number} outRate positive integer, samples per second out
   */
  constructor(inRate, outRate) {
    if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0)
      throw new RangeError(`rates must be positive integers (got ${inRate} -> ${outRate})`);
    this.inRate = inRate;
    this.outRate = outRate;
    this.identity = inRate === outRate;
    const g = gcd(inRate, outRate);
    /** Phases per input step (L) and input samples per L outputs (M). */
    this.L = outRate / g;
    this.M = inRate / g;
    const scale = Math.min(1, outRate / inRate);
    /** Kernel half-width in input samples. */
    this.W = Math.ceil(HALF_TAPS / scale);
    this.kernels = this.identity ? [] : makeKernels(this.L, this.W, (CUTOFF * scale) / 2);
    /** Input samples held, the first of which has absolute index `start` (negative: the zeros before the start). */
    this.held = new Float32Array(1024);
    this.count = this.W;
    this.start = -this.W;
    /** The next output's input index and phase: position = index + phase / L. */
    this.index = 0;
    this.phase = 0;
    this.inputs = 0;
    this.outputs = 0;
    this.flushed = false;
  }

  /** Takes input samples; returns the output samples that are now complete. */
  push(samples) {
    if (this.flushed) throw new Error('push after flush');
    this.inputs += samples.length;
    if (this.identity) {
      const out = new Int16Array(samples.length);
      for (let i = 0; i < samples.length; i++) out[i] = toInt16(samples[i]);
      this.outputs += out.length;
      return out;
    }
    this.append(samples);
    return this.produce(Infinity);
  }

  /** The remaining outputs, as if zeros followed the last input: ceil(inputs · outRate / inRate) in all. */
  flush() {
    if (this.flushed) return new Int16Array(0);
    this.flushed = true;
    if (this.identity) return new Int16Array(0);
    const total = Math.ceil((this.inputs * this.L) / this.M);
    this.append(new Float32Array(this.W + this.M + 1));
    return this.produce(total - this.outputs);
  }

  append(samples) {
    if (this.count + samples.length > this.held.length) {
      const bigger = new Float32Array(Math.max(this.held.length * 2, this.count + samples.length));
      bigger.set(this.held.subarray(0, this.count));
      this.held = bigger;
    }
    this.held.set(samples, this.count);
    this.count += samples.length;
  }

  produce(limit) {
    const out = [];
    const { W, L, M } = this;
    // Output at index+phase/L needs inputs index-W+1 .. index+W.
    while (out.length < limit && this.index + W < this.start + this.count) {
      const kernel = this.kernels[this.phase];
      const first = this.index - W + 1 - this.start;
      let sum = 0;
      for (let j = 0; j < kernel.length; j++) sum += this.held[first + j] * kernel[j];
      out.push(toInt16(sum));
      this.phase += M;
      this.index += Math.floor(this.phase / L);
      this.phase %= L;
    }
    // Drop the inputs no later output can reach.
    const keepFrom = this.index - W + 1 - this.start;
    if (keepFrom > 0) {
      this.held.copyWithin(0, keepFrom, this.count);
      this.count -= keepFrom;
      this.start += keepFrom;
    }
    this.outputs += out.length;
    return Int16Array.from(out);
  }
}

/** For each phase p (fraction p/L), the 2W taps at input offsets -W+1..W, windowed sinc, summing to 1. */
function makeKernels(L, W, cutoff) {
  const kernels = [];
  for (let p = 0; p < L; p++) {
    const frac = p / L;
    const taps = new Float64Array(2 * W);
    let total = 0;
    for (let j = 0; j < 2 * W; j++) {
      const t = j - W + 1 - frac;
      const x = 2 * cutoff * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const window = Math.abs(t) >= W ? 0 : 0.5 * (1 + Math.cos((Math.PI * t) / W));
      taps[j] = sinc * window;
      total += taps[j];
    }
    for (let j = 0; j < taps.length; j++) taps[j] /= total;
    kernels.push(taps);
  }
  return kernels;
}
