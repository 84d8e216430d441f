/**
 * A client that does what protocol.md 1.3-1.4 asks of a well-behaved one when
 * the server goes away: it streams its frames, and when the connection closes
 * with 1001 or 1012 (the server drains) or 1006 (the worker died), it
 * reconnects with first_seq = last committed + 1 and resends from there,
 * until a `stop` is answered with `stopped` and 1000. A connect attempt that
 * is never answered is abandoned after a timeout and retried (connectWithin).
 *
 * Frames go out in batches of ACK_INTERVAL, each batch waiting for its ack:
 * flow control like a real client's, and no timing assumption; a
 * `batchIntervalMs` spreads the batches out, as a client sending audio as it
 * is spoken does (the stream then lasts while the test does its damage), and a
`progress` tells the test how far it has got. A `hold`
 * parks the stream mid-flight (every frame before it acked) until the test
 * has done its damage (killed a worker, rolled the cluster).
 *
 * Also: the coverage check for streams that were resumed, where a frame may
 * land twice (published, but its `committed` lost with the connection).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { IngestClient, type CloseInfo, type ServerMessage } from '../../src/client/ingest-client';
import { field, type FieldMap } from './field-map';
import type { SentStream } from './stream-check';

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Closes after which a client resumes: server draining (1001, 1012) or gone (1006). */
export const RESUMABLE_CLOSES: ReadonlySet<number> = new Set([1001, 1006, 1012]);

export interface Hold {
  /**
   * Until released, the stream sends nothing from this seq on (every earlier
   * frame acked), whatever connection it is on.
   */
  readonly beforeSeq: number;
  readonly release: Promise<void>;
  /** Called once, when the stream first reaches the hold. */
  readonly onReached?: () => void;
}

export interface ResumingStreamOptions {
  readonly url: string;
  readonly token: string;
  readonly sent: SentStream;
  /** The server's ACK_INTERVAL: batch size, so that every full batch ends on an ack. */
  readonly ackInterval: number;
  readonly hold?: Hold;
  /** Connection attempts (answered or not) before the stream gives up (a loop is a bug). Default 10. */
  readonly maxConnections?: number;
  /** A connect attempt not answered within this is abandoned and retried. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Pause between two batches (frames of 20 ms: ackInterval × 20 ms is real time). Default 0: none. */
  readonly batchIntervalMs?: number;
  /** Kept up to date after every batch, for a test that acts while the stream flows. */
  readonly progress?: StreamProgress;
}

/** How far a stream has got, over all its connections. */
export interface StreamProgress {
  /** The highest seq sent. */
  sent: number;
  /** The highest seq the server said `committed`. */
  committed: number;
}

/** One connection of a resumed stream. */
export interface ConnectionRecord {
  readonly streamId: string | undefined;
  readonly firstSeq: number;
  /** Highest `committed` seq known when this connection closed (all connections so far). */
  readonly committed: number;
  readonly close: CloseInfo;
}

export interface ResumingStreamResult {
  readonly connections: ConnectionRecord[];
  readonly stopped: ServerMessage;
  /** Connect attempts that got no answer within connectTimeoutMs (see connectWithin). */
  readonly lostConnects: number;
}

/** Streams every frame of `sent`, resuming after drains and crashes; resolves after stopped + 1000. */
export async function runResumingStream(t: TestContext, options: ResumingStreamOptions): Promise<ResumingStreamResult> {
  const { sent } = options;
  const last = sent.firstSeq + sent.frames.length - 1;
  const connections: ConnectionRecord[] = [];
  let committed = sent.firstSeq - 1;
  let released = false;
  let reached = false;
  void options.hold?.release.then(() => (released = true));
  const maxConnections = options.maxConnections ?? 10;
  let lostConnects = 0;
  while (connections.length + lostConnects < maxConnections) {
    const firstSeq = committed + 1;
    const client = await connectWithin(
      t,
      options.url,
      options.token,
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    );
    if (!client) {
      lostConnects++;
      continue;
    }
    let streamId: string | undefined;
    let stopped: ServerMessage | undefined;
    try {
      const started = await client.start({ interactionId: sent.interactionId, firstSeq });
      assert.equal(started.next_seq, firstSeq, `${sent.interactionId}: started.next_seq`);
      streamId = started.stream_id as string;
      let next = firstSeq;
      while (next <= last) {
        if (options.hold && !released && next === options.hold.beforeSeq) {
          if (!reached) options.hold.onReached?.();
          reached = true;
          await Promise.race([options.hold.release, client.closed]);
          if (client.closeState) break;
        }
        const stopAt = options.hold && !released ? options.hold.beforeSeq - 1 : last;
        const end = Math.min(stopAt, next + options.ackInterval - 1);
        for (let seq = next; seq <= end; seq++) client.sendFrame(sent.frames[seq - sent.firstSeq]);
        if ((end - firstSeq + 1) % options.ackInterval === 0) {
          await client.waitForMessage((m) => m.type === 'ack' && m.seq === end);
        }
        if (options.progress) {
          options.progress.sent = Math.max(options.progress.sent, end);
          options.progress.committed = Math.max(options.progress.committed, client.lastCommitted());
        }
        next = end + 1;
        if (options.batchIntervalMs && next <= last) {
          await Promise.race([delay(options.batchIntervalMs), client.closed]);
          if (client.closeState) break;
        }
      }
      if (!client.closeState) stopped = (await client.stop()).stopped;
    } catch (err) {
      if (!client.closeState) throw err; // not a close: a real failure
    }
    const close = await client.closed;
    committed = Math.max(committed, client.lastCommitted());
    if (options.progress) options.progress.committed = Math.max(options.progress.committed, committed);
    connections.push({ streamId, firstSeq, committed, close });
    if (close.code === 1000 && stopped) {
      assert.equal(stopped.last_seq, last, `${sent.interactionId}: stopped.last_seq`);
      return { connections, stopped, lostConnects };
    }
    if (!RESUMABLE_CLOSES.has(close.code)) {
      assert.fail(
        `${sent.interactionId}: closed with ${close.code} ${close.reason}, which is not a close to resume after`,
      );
    }
  }
  assert.fail(`${sent.interactionId}: still not stopped after ${maxConnections} connection attempts`);
}

/**
 * Connects, or gives up after `timeoutMs` (undefined) as a real client's
 * handshake timeout would. A connection that the primary hands to a worker in
 * the instant that worker is killed is never answered: Node's cluster
 * round-robin does not hand it to another worker when the first one dies
 * without replying. Refusals and errors are not retried: they reject.
 */
async function connectWithin(
  t: TestContext,
  url: string,
  token: string,
  timeoutMs: number,
): Promise<IngestClient | undefined> {
  const attempt = IngestClient.connect(url, { token });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  const client = await Promise.race([attempt, timedOut]).finally(() => clearTimeout(timer));
  if (!client) {
    void attempt.then(
      (late) => late.ws.terminate(),
      () => undefined,
    );
    return undefined;
  }
  t.after(() => {
    if (!client.closeState) client.ws.terminate();
  });
  return client;
}

/**
 * The audio records of a stream that may have been resumed: every seq from
 * firstSeq to `upTo` present and byte-exact, and each seq's first occurrence
 * in order (a record never starts past the highest seq seen + 1). Repeats
 * are allowed: a frame published just before its connection died is sent again.
 */
export function assertResumedAudioCovers(records: FieldMap[], sent: SentStream, upTo: number): void {
  const last = sent.firstSeq + sent.frames.length - 1;
  let covered = sent.firstSeq - 1;
  for (const fields of records) {
    if (field(fields, 'type') !== 'audio') continue;
    const start = Number(field(fields, 'seq_start'));
    const end = Number(field(fields, 'seq_end'));
    assert.ok(
      start >= sent.firstSeq && end <= last && start <= end,
      `${sent.interactionId}: record ${start}-${end} outside ${sent.firstSeq}-${last}`,
    );
    assert.ok(
      start <= covered + 1,
      `${sent.interactionId}: record starts at ${start} but only up to ${covered} came before: a gap`,
    );
    assert.equal(
      Number(field(fields, 'frames')),
      end - start + 1,
      `${sent.interactionId}: frames count of ${start}-${end}`,
    );
    const want = Buffer.concat(sent.frames.slice(start - sent.firstSeq, end - sent.firstSeq + 1));
    const payload = fields.get('payload');
    assert.ok(payload?.equals(want), `${sent.interactionId}: payload of ${start}-${end} differs from what was sent`);
    assert.equal(field(fields, 'tenant_id'), sent.tenantId);
    covered = Math.max(covered, end);
  }
  assert.ok(covered >= upTo, `${sent.interactionId}: frames published up to ${covered}, expected at least ${upTo}`);
}
