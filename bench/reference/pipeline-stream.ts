/**
 * One stream of the minimal Redis pipeline, as a competent engineer would
 * write a lean ingestion service: frames kept in an array; when the oldest
 * is BUFFER_DURATION_MS old (a timer per stream) or 1 MiB is buffered, one
 * XADD of one `audio` record with the fields the service writes
 * (protocol.md section 3), `committed` with its last seq once Redis
 * confirms. `stream_started` and `stream_ended` records as the contract
 * asks. Order needs no queue: one Redis connection answers in the order it
 * was asked, so records of a stream are stored and confirmed in order.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';

const ACK_INTERVAL = 10;
const MAX_CHUNK_BYTES = 1_048_576;

/** Where records go: one XADD of these fields (after `*`), resolved when stored. */
export type RecordSink = (fields: Array<string | Buffer>) => Promise<unknown>;

export interface PipelineStreamOptions {
  readonly ws: WebSocket;
  readonly sink: RecordSink;
  readonly tenant: string;
  readonly bufferMs: number;
}

interface StartMessage {
  readonly type?: string;
  readonly interaction_id?: unknown;
  readonly first_seq?: unknown;
  readonly media?: { encoding?: unknown; sample_rate?: unknown; channels?: unknown };
  readonly metadata?: unknown;
}

/** `frame_bytes` when every frame has one size, else `frame_sizes` as runs (`320x149,160`). */
function frameSizeField(frames: readonly Buffer[]): [string, string] {
  const runs: string[] = [];
  let size = frames[0].length;
  let count = 0;
  for (const frame of frames) {
    if (frame.length === size) count++;
    else {
      runs.push(count === 1 ? String(size) : `${size}x${count}`);
      size = frame.length;
      count = 1;
    }
  }
  if (runs.length === 0) return ['frame_bytes', String(size)];
  runs.push(count === 1 ? String(size) : `${size}x${count}`);
  return ['frame_sizes', runs.join(',')];
}

export class PipelineStream {
  private readonly ws: WebSocket;
  private common: string[] = [];
  private media: string[] = [];
  private nextSeq = 0;
  private received = 0;
  private frames: Buffer[] = [];
  private bytes = 0;
  private firstSeq = 0;
  private firstAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private state: 'awaiting_start' | 'streaming' | 'ended' = 'awaiting_start';

  constructor(private readonly options: PipelineStreamOptions) {
    this.ws = options.ws;
    this.ws.on('message', (data: Buffer, isBinary: boolean) => (isBinary ? this.frame(data) : this.text(data)));
    this.ws.on('close', () => this.end('client_closed'));
    this.ws.on('error', () => this.ws.terminate());
  }

  private frame(data: Buffer): void {
    if (this.state !== 'streaming') {
      if (this.state === 'awaiting_start') this.ws.close(1008, 'frame before start');
      return;
    }
    if (this.frames.length === 0) {
      this.firstSeq = this.nextSeq;
      this.firstAt = Date.now();
      this.timer = setTimeout(() => this.flush(), this.options.bufferMs);
    }
    this.frames.push(data);
    this.bytes += data.length;
    const seq = this.nextSeq++;
    if (++this.received % ACK_INTERVAL === 0) this.ws.send(`{"type":"ack","seq":${seq}}`);
    if (this.bytes >= MAX_CHUNK_BYTES) this.flush();
  }

  private text(data: Buffer): void {
    let msg: StartMessage;
    try {
      msg = JSON.parse(data.toString('utf8')) as StartMessage;
    } catch {
      return this.ws.close(1008, 'invalid JSON');
    }
    if (msg.type === 'start' && this.state === 'awaiting_start' && typeof msg.interaction_id === 'string') {
      this.begin(msg, msg.interaction_id);
    } else if (msg.type === 'stop' && this.state === 'streaming') {
      this.end('stop');
    } else if (msg.type !== 'keepalive' || this.state !== 'streaming') {
      this.ws.close(1008, 'unexpected message');
    }
  }

  private begin(msg: StartMessage, interactionId: string): void {
    const streamId = randomUUID();
    this.nextSeq = typeof msg.first_seq === 'number' ? msg.first_seq : 1;
    this.state = 'streaming';
    this.common = ['tenant_id', this.options.tenant, 'interaction_id', interactionId, 'stream_id', streamId];
    this.common.push('source', 'native');
    const media = msg.media ?? {};
    this.media = [
      'encoding',
      typeof media.encoding === 'string' ? media.encoding : 'pcm_s16le',
      'sample_rate',
      String(typeof media.sample_rate === 'number' ? media.sample_rate : 8000),
      'channels',
      String(typeof media.channels === 'number' ? media.channels : 1),
    ];
    const metadata = JSON.stringify(msg.metadata ?? {});
    const started = ['type', 'stream_started', ...this.common, 'received_at', new Date().toISOString()];
    started.push(...this.media, 'first_seq', String(this.nextSeq), 'metadata', metadata);
    // Its refusal is handled in publish(); nothing waits for this record.
    void this.publish(started);
    this.ws.send(
      JSON.stringify({ type: 'started', stream_id: streamId, interaction_id: interactionId, next_seq: this.nextSeq }),
    );
  }

  /** One `audio` record of the buffered frames; `committed` once Redis holds it. */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const frames = this.frames;
    if (frames.length === 0) return;
    const seqEnd = this.firstSeq + frames.length - 1;
    const fields = ['type', 'audio', ...this.common, 'received_at', new Date(this.firstAt).toISOString()];
    fields.push('seq_start', String(this.firstSeq), 'seq_end', String(seqEnd), 'frames', String(frames.length));
    fields.push(...this.media, ...frameSizeField(frames));
    const payload = Buffer.concat(frames, this.bytes);
    this.frames = [];
    this.bytes = 0;
    this.publish([...fields, 'payload', payload]).then(
      () => this.reply(`{"type":"committed","seq":${seqEnd}}`),
      () => undefined,
    );
  }

  private end(reason: 'stop' | 'client_closed'): void {
    if (this.state !== 'streaming') return;
    this.state = 'ended';
    this.flush();
    const lastSeq = this.nextSeq - 1;
    const ended = ['type', 'stream_ended', ...this.common, 'received_at', new Date().toISOString()];
    ended.push('last_seq', String(lastSeq), 'frames', String(this.received), 'reason', reason);
    this.publish(ended).then(
      () => {
        if (reason !== 'stop') return;
        this.reply(JSON.stringify({ type: 'stopped', last_seq: lastSeq, frames: this.received }));
        this.ws.close(1000, 'stream stopped');
      },
      () => undefined,
    );
  }

  /** Stores a record; a refusal closes the stream with 1011 (resumable by the client). */
  private publish(fields: Array<string | Buffer>): Promise<unknown> {
    const stored = this.options.sink(fields);
    stored.catch((err: unknown) => {
      console.error(`pipeline: XADD failed: ${String(err)}`);
      this.reply('{"type":"error","code":"backend_rejected","message":"backend refused the data"}');
      this.ws.close(1011, 'backend refused the data');
    });
    return stored;
  }

  private reply(text: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
  }
}
