/**
 * Checks what a backend holds for a set of streams against what the clients
 * sent: every frame exactly once per record, in order, byte-exact, with seq
 * ranges and fields as protocol.md section 3 says.
 */
import assert from 'node:assert/strict';
import { splitFrames } from '../../packages/consumer/src/frame-sizes';
import { entryFields, field, frameSizeFields, type FieldMap } from './field-map';
import type { StreamEntry } from './redis';

export interface SentStream {
  readonly interactionId: string;
  readonly tenantId: string;
  /** Frames by seq, starting at firstSeq. */
  readonly frames: Buffer[];
  readonly firstSeq: number;
}

/** Groups entries by interaction_id, keeping stream order. */
export function byInteraction(entries: StreamEntry[]): Map<string, FieldMap[]> {
  const out = new Map<string, FieldMap[]>();
  for (const entry of entries) {
    const fields = entryFields(entry);
    const id = field(fields, 'interaction_id');
    const list = out.get(id) ?? [];
    list.push(fields);
    out.set(id, list);
  }
  return out;
}

/**
 * Asserts the audio records of one stream cover seq firstSeq..upTo contiguously,
 * in order, byte-exact. Records after upTo are allowed (frames sent after the
 * last ack may or may not have landed).
 */
export function assertAudioCovers(records: FieldMap[], sent: SentStream, upTo: number): void {
  let expected = sent.firstSeq;
  for (const fields of records) {
    if (field(fields, 'type') !== 'audio') continue;
    const start = Number(field(fields, 'seq_start'));
    const end = Number(field(fields, 'seq_end'));
    assert.equal(start, expected, `${sent.interactionId}: record starts at ${start}, expected ${expected}`);
    assert.equal(Number(field(fields, 'frames')), end - start + 1, `${sent.interactionId}: frames count`);
    const payload = fields.get('payload');
    assert.ok(payload, `${sent.interactionId}: audio record without payload`);
    const want = sent.frames.slice(start - sent.firstSeq, end - sent.firstSeq + 1);
    assert.ok(payload.equals(Buffer.concat(want)), `${sent.interactionId}: payload of ${start}-${end} differs`);
    assert.deepEqual(
      splitFrames(frameSizeFields(fields), payload),
      want,
      `${sent.interactionId}: frame sizes of ${start}-${end} cut the payload into the frames sent`,
    );
    assert.equal(field(fields, 'tenant_id'), sent.tenantId);
    expected = end + 1;
  }
  assert.ok(
    expected - 1 >= upTo,
    `${sent.interactionId}: frames published up to ${expected - 1}, expected at least ${upTo}`,
  );
}

/**
 * Polls `read` (a backend's records, as FieldMaps) until it holds the stream_ended of `interactionId`: the
 * service publishes it after answering `stopped`, so a client's stop can resolve before it is there.
 */
export async function waitForStreamEnded(
  read: () => Promise<FieldMap[]>,
  interactionId: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await read();
    const ended = (r: FieldMap): boolean =>
      field(r, 'interaction_id') === interactionId && field(r, 'type') === 'stream_ended';
    if (records.some(ended)) return;
    assert.ok(Date.now() < deadline, `${interactionId}: stream_ended within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
