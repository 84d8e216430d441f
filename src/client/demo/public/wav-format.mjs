/**
 * The sample rate and channel count in a WAV file's `fmt ` chunk: the page
 * decodes a file at its own rate (decodeAudioData would otherwise resample it
 * to the context's), so a 16 kHz file reaches the worklet sample for sample.
 * Only the header is read; decodeAudioData reads the audio.
 */
export function wavFormat(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  for (let at = 12; at + 8 <= bytes.length;) {
    const size = view.getUint32(at + 4, true);
    if (tag(at) === 'fmt ' && size >= 16 && at + 24 <= bytes.length) {
      return { channels: view.getUint16(at + 10, true), sampleRate: view.getUint32(at + 12, true) };
    }
    at += 8 + size + (size % 2); // chunks are word-aligned
  }
  throw new Error('the WAV file has no fmt chunk');
}
