/**
 * One stream sent through @ingest/client (the Node entry, as an integrator uses it),
 * for the end-to-end tests that break the service under it. It sends every frame of a
 * SentStream, optionally parks mid-stream (every frame before the hold acked) until the
 * test has done its damage, then stops. It records every event, how often the token
 * provider was asked, and the peak of `stats.uncommittedBytes`, sampled after every
 * event and every send, so a test can hold the client to its memory cap.
 */
import type { TestContext } from 'node:test';
import {
  IngestClient,
  IngestClientError,
  type ClosedEvent,
  type IngestClientEvent,
  type StopResult,
} from '../../packages/client/src/node';
import type { SentStream } from './stream-check';

const EVENT_TYPES = ['started', 'ack', 'committed', 'reconnecting', 'reconnected', 'closed'] as const;

export interface LibraryStreamOptions {
  readonly url: string;
  /** Mints a token: the client's provider, called before every connection. */
  readonly sign: () => string;
  readonly sent: SentStream;
  readonly maxUncommittedBytes: number;
  readonly whenFull: 'wait' | 'reject';
  /** Sends nothing from this seq on (every earlier frame acked) until `release` resolves. */
  readonly hold?: { readonly beforeSeq: number; readonly release: Promise<void>; readonly onReached?: () => void };
  /** Called once, the first time a send finds the window full (it then waits, or is refused). */
  readonly onFull?: () => void;
  /** The client's keepaliveIntervalMs (its default when absent). */
  readonly keepaliveIntervalMs?: number;
}

export interface LibraryStreamResult {
  readonly stopped: StopResult;
  readonly events: IngestClientEvent[];
  readonly closed: ClosedEvent | undefined;
  readonly tokenCalls: number;
  readonly peakUncommittedBytes: number;
  /** `buffer_full` refusals (whenFull 'reject'), each retried once room came back. */
  readonly bufferFull: number;
  /** Outages survived (`stats.reconnects`). */
  readonly reconnects: number;
  /** Connection attempts after the first (`stats.reconnectAttempts`). */
  readonly reconnectAttempts: number;
}

export async function runLibraryStream(t: TestContext, options: LibraryStreamOptions): Promise<LibraryStreamResult> {
  const { sent } = options;
  let tokenCalls = 0;
  let peak = 0;
  let bufferFull = 0;
  let full = false;
  const events: IngestClientEvent[] = [];
  const client = new IngestClient({
    url: options.url,
    token: () => (tokenCalls++, options.sign()),
    interactionId: sent.interactionId,
    firstSeq: sent.firstSeq,
    maxUncommittedBytes: options.maxUncommittedBytes,
    whenFull: options.whenFull,
    // Connections handed to a worker as it is killed are never answered: give up on them soon.
    connectTimeoutMs: 5_000,
    backoff: { initialDelayMs: 50, maxDelayMs: 500 },
    ...(options.keepaliveIntervalMs !== undefined ? { keepaliveIntervalMs: options.keepaliveIntervalMs } : {}),
  });
  t.after(() => client.close());
  const checks = new Set<() => void>();
  const sample = (): void => void (peak = Math.max(peak, client.stats.uncommittedBytes));
  for (const type of EVENT_TYPES) {
    client.on(type, (event: IngestClientEvent) => {
      events.push(event);
      sample();
      for (const check of [...checks]) check();
    });
  }
  /** Resolves when `condition` holds, checked after every event; rejects if the stream closes first. */
  const until = (condition: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (condition()) {
          checks.delete(check);
          resolve();
        } else if (events.at(-1)?.type === 'closed') {
          checks.delete(check);
          reject(new Error(`${sent.interactionId}: closed while waiting for ${what}`));
        }
      };
      checks.add(check);
      check();
    });
  const noteFull = (): void => {
    if (full) return;
    full = true;
    options.onFull?.();
  };

  await client.start();
  for (const [i, frame] of sent.frames.entries()) {
    const seq = sent.firstSeq + i;
    if (options.hold && seq === options.hold.beforeSeq) {
      await until(() => client.stats.acked >= seq - 1, `the ack of ${seq - 1}`);
      options.hold.onReached?.();
      await options.hold.release;
    }
    for (;;) {
      if (client.stats.uncommittedBytes + frame.length > options.maxUncommittedBytes) noteFull();
      try {
        await client.send(frame);
        break;
      } catch (err) {
        if (!(err instanceof IngestClientError) || err.code !== 'buffer_full') throw err;
        bufferFull++;
        const cap = options.maxUncommittedBytes;
        await until(() => client.stats.uncommittedBytes + frame.length <= cap, 'room in the window');
      } finally {
        sample();
      }
    }
  }
  const stopped = await client.stop();
  sample();
  return {
    stopped,
    events,
    closed: events.find((e): e is ClosedEvent => e.type === 'closed'),
    tokenCalls,
    peakUncommittedBytes: peak,
    bufferFull,
    reconnects: client.stats.reconnects,
    reconnectAttempts: client.stats.reconnectAttempts,
  };
}
