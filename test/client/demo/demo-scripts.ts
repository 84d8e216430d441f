/**
 * The browser demo's plain ES modules (src/client/demo/public), loaded into
 * Node for their unit tests with require(esm), typed as the tests use them.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from '../../support/repo-root';

export interface PcmResampler {
  readonly inputs: number;
  readonly outputs: number;
  push(samples: Float32Array): Int16Array;
  flush(): Int16Array;
}

interface ResamplerModule {
  PcmResampler: new (inRate: number, outRate: number) => PcmResampler;
  toInt16: (x: number) => number;
}
interface LevelModule {
  pcmLevel: (samples: Int16Array) => { rmsDb: number; peakDb: number };
}
export interface FrameQueue<T> extends AsyncIterable<T> {
  readonly dropped: number;
  push(frame: T): boolean;
  end(): void;
  cancel(): void;
}
interface FrameQueueModule {
  FrameQueue: new <T>(limit?: number) => FrameQueue<T>;
}
interface WavFormatModule {
  wavFormat: (bytes: Uint8Array) => { channels: number; sampleRate: number };
}

const load = createRequire(__filename);
const script = <T>(name: string): T => load(path.join(REPO_ROOT, 'src', 'client', 'demo', 'public', name)) as T;

export const { PcmResampler, toInt16 } = script<ResamplerModule>('pcm-resampler.mjs');
export const { pcmLevel } = script<LevelModule>('pcm-level.mjs');
export const { wavFormat } = script<WavFormatModule>('wav-format.mjs');
export const { FrameQueue } = script<FrameQueueModule>('frame-queue.mjs');
