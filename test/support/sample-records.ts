/**
 * Records for tests that drive a Publisher directly: valid by the protocol,
 * each on a stream of its own, so tests running at once never share a stream.
 */
import { randomUUID } from 'node:crypto';
import { FrameSizeRuns } from '../../src/shared/publishing/frame-sizes';
import type { AudioRecord, RecordBase } from '../../src/shared/publishing/records';

/** The fields every record carries, for `tenant`, on a stream of its own unless `streamId` is given. */
export function recordBase(tenant: string, streamId = randomUUID()): RecordBase {
  return {
    tenant_id: tenant,
    interaction_id: `call-${streamId}`,
    stream_id: streamId,
    source: 'native',
    received_at: new Date().toISOString(),
  };
}

/** The sizes of `frames` frames sharing `bytes` as evenly as they can (the larger ones first). */
function evenFrameSizes(bytes: number, frames: number): FrameSizeRuns {
  const runs = new FrameSizeRuns();
  for (let i = 0; i < frames; i++) runs.add(Math.floor(bytes / frames) + (i < bytes % frames ? 1 : 0));
  return runs;
}

/** An audio record of ten frames from `seqStart`, carrying `payload`. */
export function audioRecord(
  tenant: string,
  seqStart: number,
  payload: Buffer,
  overrides: Partial<RecordBase> = {},
): AudioRecord {
  const frames = 10;
  return {
    ...recordBase(tenant),
    ...overrides,
    type: 'audio',
    seq_start: seqStart,
    seq_end: seqStart + frames - 1,
    frames,
    encoding: 'pcm_s16le',
    sample_rate: 8000,
    channels: 1,
    ...evenFrameSizes(payload.length, frames).take(),
    payload,
  };
}
