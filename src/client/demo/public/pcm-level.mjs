/**
 * The level meter's reading of one frame of 16-bit PCM: RMS and peak in dBFS
 * (0 dBFS = full scale 32768; silence reads -Infinity).
 */
export function pcmLevel(samples) {
  let squares = 0;
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    squares += s * s;
    const magnitude = s < 0 ? -s : s;
    if (magnitude > peak) peak = magnitude;
  }
  const rms = samples.length === 0 ? 0 : Math.sqrt(squares / samples.length);
  return { rmsDb: dbfs(rms), peakDb: dbfs(peak) };
}

function dbfs(amplitude) {
  return 20 * Math.log10(amplitude / 32768);
}
