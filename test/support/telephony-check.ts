/**
 * Checks what a backend holds for a simulated telephony call against what the
 * simulator sent: per track, stream_started (ids, media, metadata), the audio
 * byte-exact (SHA-256 of the concatenated payloads) with seq ranges matching
 * the chunk numbers, dtmf and mark records exactly where they were sent, and
 * stream_ended with the expected reason. Records are field maps (field-map.ts),
 * whichever backend they were read back from.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { InMemoryPublisher } from '../../src/shared/publishing/in-memory/in-memory-publisher';
import { splitFrames } from '../../packages/consumer/src/frame-sizes';
import { field, frameSizeFields, recordFields, type FieldMap } from './field-map';
import type { SimulatedCall } from './telephony-simulator';

export interface ExpectedCall {
  readonly tenant: string;
  readonly reason: string;
  readonly sampleRate?: number;
  readonly encoding?: string;
}

export function streamIdOf(call: SimulatedCall, track: string): string {
  return call.provider === 'twilio' ? `${call.streamSid}:${track}` : call.streamSid;
}

/**
 * Resolves, once every track of the call has its stream_ended record, with all
 * the records of the in-memory backend as field maps (waits on publish events,
 * never on time).
 */
export function whenCallEnded(publisher: InMemoryPublisher, call: SimulatedCall): Promise<FieldMap[]> {
  const streams = new Set([...call.tracks.keys()].map((track) => streamIdOf(call, track)));
  const done = (): boolean => {
    const ended = publisher
      .records()
      .filter((r) => r.type === 'stream_ended' && r.interaction_id === call.callSid && streams.has(r.stream_id));
    return ended.length === streams.size;
  };
  return new Promise((resolve) => {
    const finish = (): void => resolve(publisher.records().map(recordFields));
    if (done()) return finish();
    const off = publisher.onRecord(() => {
      if (!done()) return;
      off();
      finish();
    });
  });
}

/** The records of one track of a call, in backend order. */
export function trackRecords(records: readonly FieldMap[], call: SimulatedCall, track: string): FieldMap[] {
  const streamId = streamIdOf(call, track);
  return records.filter((r) => field(r, 'interaction_id') === call.callSid && field(r, 'stream_id') === streamId);
}

/** The dtmf/mark records a track should hold, in script order, with the chunk each follows. */
function expectedEvents(
  call: SimulatedCall,
  track: string,
  first: boolean,
): Array<{ type: string; value: string; afterChunk: number }> {
  const out: Array<{ type: string; value: string; afterChunk: number; order: number }> = [];
  const dtmfTrack = call.provider === 'twilio' ? track === 'inbound' : first;
  if (dtmfTrack)
    (call.options.dtmf ?? []).forEach((d, i) =>
      out.push({ type: 'dtmf', value: d.digit, afterChunk: d.afterChunk, order: i }),
    );
  if (first)
    (call.options.marks ?? []).forEach((m, i) =>
      out.push({ type: 'mark', value: m.name, afterChunk: m.afterChunk, order: 1000 + i }),
    );
  return out.sort((a, b) => a.afterChunk - b.afterChunk || a.order - b.order);
}

export function assertCallRecords(records: readonly FieldMap[], call: SimulatedCall, expected: ExpectedCall): void {
  const source = call.provider;
  let first = true;
  for (const [track, sent] of call.tracks) {
    const list = trackRecords(records, call, track);
    const label = `${call.callSid}${track ? `:${track}` : ''}`;
    assert.ok(list.length >= 2, `${label}: records found (${list.length})`);
    const types = list.map((r) => field(r, 'type'));
    assert.equal(types[0], 'stream_started', `${label}: first record`);
    assert.equal(types.at(-1), 'stream_ended', `${label}: last record`);
    for (const r of list) {
      assert.equal(field(r, 'tenant_id'), expected.tenant, `${label}: tenant`);
      assert.equal(field(r, 'source'), source, `${label}: source`);
    }
    const started = list[0];
    assert.equal(field(started, 'encoding'), expected.encoding ?? (source === 'twilio' ? 'mulaw' : 'pcm_s16le'));
    assert.equal(field(started, 'sample_rate'), String(expected.sampleRate ?? 8000));
    assert.equal(field(started, 'channels'), '1');
    assert.equal(field(started, 'first_seq'), '1');
    const metadata = JSON.parse(field(started, 'metadata')) as Record<string, unknown>;
    assert.equal(metadata.call_sid, call.callSid);
    assert.equal(metadata.stream_sid, call.streamSid);
    assert.equal(metadata.account_sid, call.accountSid);
    assert.deepEqual(metadata.custom_parameters, call.options.customParameters ?? {});
    if (source === 'exotel') {
      assert.equal(metadata.from, call.options.from ?? '+919876543210');
      assert.equal(metadata.to, call.options.to ?? '+918047491899');
    } else {
      assert.equal(metadata.track, track);
    }

    const events = expectedEvents(call, track, first);
    let nextSeq = 1;
    const payloads: Buffer[] = [];
    for (const r of list.slice(1, -1)) {
      const type = field(r, 'type');
      if (type === 'audio') {
        assert.equal(Number(field(r, 'seq_start')), nextSeq, `${label}: audio record starts where the previous ended`);
        const end = Number(field(r, 'seq_end'));
        assert.equal(Number(field(r, 'frames')), end - nextSeq + 1, `${label}: frames of ${nextSeq}-${end}`);
        assert.equal(field(r, 'encoding'), field(started, 'encoding'));
        assert.equal(field(r, 'sample_rate'), field(started, 'sample_rate'));
        const payload = r.get('payload')!;
        assert.deepEqual(
          splitFrames(frameSizeFields(r), payload),
          sent.chunks.slice(nextSeq - 1, end),
          `${label}: frame sizes cut the payload into the chunks sent`,
        );
        assert.ok(
          payload.equals(Buffer.concat(sent.chunks.slice(nextSeq - 1, end))),
          `${label}: payload of chunks ${nextSeq}-${end} is what was sent`,
        );
        payloads.push(payload);
        nextSeq = end + 1;
        continue;
      }
      const want = events.shift();
      assert.ok(want, `${label}: unexpected ${type} record`);
      assert.equal(type, want.type, `${label}: record type in place`);
      assert.equal(field(r, type === 'dtmf' ? 'digit' : 'name'), want.value);
      assert.equal(nextSeq - 1, want.afterChunk, `${label}: ${type} ${want.value} follows chunk ${want.afterChunk}`);
    }
    assert.deepEqual(events, [], `${label}: every dtmf and mark recorded`);
    assert.equal(nextSeq - 1, sent.chunks.length, `${label}: every chunk published`);
    assert.equal(
      createHash('sha256').update(Buffer.concat(payloads)).digest('hex'),
      sent.sha256(),
      `${label}: audio hash`,
    );
    const ended = list.at(-1)!;
    assert.equal(field(ended, 'reason'), expected.reason, `${label}: stream_ended reason`);
    assert.equal(field(ended, 'last_seq'), String(sent.chunks.length));
    assert.equal(field(ended, 'frames'), String(sent.chunks.length));
    first = false;
  }
}
