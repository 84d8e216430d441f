/**
 * The records of one stream (protocol.md 3), from the ids fixed at its start:
 * `stream_started`, `audio` out of the frame buffer, `stream_ended`, and the
 * common fields of the events a source adds in between (dtmf, mark).
 *
 * Adapters write a record's fields in its key order (Redis stream fields, Kafka
 * headers), so the order of the fields below is part of what consumers see.
 */
import type {
  AudioRecord,
  EndReason,
  IngestRecord,
  RecordBase,
  StreamEndedRecord,
  StreamStartedRecord,
} from '../../shared/publishing/records';
import type { MediaFormat } from '../../shared/protocol';
import type { FrameBuffer } from './frame-buffer';

export type StreamIds = Omit<RecordBase, 'received_at'>;

export class RecordBuilder {
  constructor(
    readonly ids: StreamIds,
    private readonly media: MediaFormat,
  ) {}

  started(firstSeq: number, metadata: Readonly<Record<string, unknown>>): StreamStartedRecord {
    return {
      type: 'stream_started',
      ...this.ids,
      received_at: new Date().toISOString(),
      encoding: this.media.encoding,
      sample_rate: this.media.sample_rate,
      channels: this.media.channels,
      first_seq: firstSeq,
      metadata,
    };
  }

  /** Empties `buffer` into one audio record, received when its oldest frame was; undefined when it is empty. */
  audio(buffer: FrameBuffer): AudioRecord | undefined {
    const frames = buffer.count;
    if (frames === 0) return undefined;
    return {
      type: 'audio',
      ...this.ids,
      received_at: new Date(buffer.firstAt).toISOString(),
      seq_start: buffer.firstSeq,
      seq_end: buffer.lastSeq,
      frames,
      encoding: this.media.encoding,
      sample_rate: this.media.sample_rate,
      channels: this.media.channels,
      ...buffer.takeFrameSizes(),
      // Last: taking the payload empties the buffer the fields above were read from.
      payload: buffer.takePayload(),
    };
  }

  ended(lastSeq: number, frames: number, reason: EndReason): StreamEndedRecord {
    return {
      type: 'stream_ended',
      ...this.ids,
      received_at: new Date().toISOString(),
      last_seq: lastSeq,
      frames,
      reason,
    };
  }

  /** A source's own record (dtmf, mark), given the stream's common fields stamped now. */
  event(make: (base: RecordBase) => IngestRecord): IngestRecord {
    return make({ ...this.ids, received_at: new Date().toISOString() });
  }
}
