/**
 * The WAV file of an assembled call: its tracks as the file's channels (one
 * track: the stream's own channels; Twilio's two: inbound left, outbound
 * right, aligned by chunk number, the shorter padded with silence).
 */
import type { AssembledCall } from './call-assembler.js';
import { ConsumerError } from './consumer-error.js';
import { encodeWav, silenceByte, type WavOutput } from './wav-encoder.js';

export function callWav(call: AssembledCall, output: WavOutput = 'pcm16'): Buffer {
  const tracks = call.tracks.filter((t) => t.frames > 0 || t.audio.length > 0);
  if (tracks.length === 0)
    throw new ConsumerError('format_mismatch', `${call.interaction_id}: no audio was read for the call`);
  // Tracks that start at different chunk numbers are aligned by chunk: the later one is led by silence.
  const first = Math.min(...tracks.map((t) => t.first_seq));
  return encodeWav(
    tracks.map((t) => {
      const lead = t.first_seq - first;
      const frameBytes = t.frames > 0 ? Math.round(t.audio.length / (t.last_seq - t.first_seq + 1)) : 0;
      const audio =
        lead > 0 && tracks.length > 1
          ? Buffer.concat([Buffer.alloc(lead * frameBytes, silenceByte(t.encoding)), t.audio])
          : t.audio;
      return { encoding: t.encoding, sampleRate: t.sample_rate, channels: t.channels, audio };
    }),
    output,
  );
}
