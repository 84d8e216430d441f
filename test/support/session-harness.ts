/**
 * One StreamSession on a fake transport and a scripted publisher, with every
 * counter and log line it produces kept for the test to read. Its clocks are
 * node:test's mock timers (setTimeout and Date): time passes only when a test
 * ticks it, so no timer of the session can rescue a broken rule (an idle close
 * standing in for a missing one) or outlive its test.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import pino from 'pino';
import { ServerMessages } from '../../src/shared/protocol';
import type { IngestRecord, Source, StreamEndedRecord } from '../../src/shared/publishing/records';
import { WorkerStats } from '../../src/worker/metrics/worker-stats';
import { InteractionOrder } from '../../src/worker/stream/interaction-order';
import {
  StreamSession,
  type SessionDeps,
  type SessionLimits,
  type StreamStart,
} from '../../src/worker/stream/stream-session';
import { WorkerBacklog } from '../../src/worker/stream/worker-backlog';
import { FakeTransport } from './fake-transport';
import { ScriptedPublisher } from './scripted-publisher';

export const LIMITS: SessionLimits = {
  bufferDurationMs: 100,
  ackInterval: 2,
  maxChunkBytes: 1000,
  maxStreamBacklogBytes: 3000,
  maxSendBufferBytes: 10_000,
  backpressureTimeoutMs: 500,
  idleTimeoutMs: 2000,
  closedStreamRetentionMs: 10_000,
};

export const START: StreamStart = {
  interactionId: 'call-1',
  streamId: 'stream-1',
  media: { encoding: 'pcm_s16le', sample_rate: 8000, channels: 1 },
  firstSeq: 1,
  metadata: { agent: 'a-1' },
};

export interface Harness {
  readonly session: StreamSession;
  readonly transport: FakeTransport;
  readonly publisher: ScriptedPublisher;
  readonly stats: WorkerStats;
  /** Every onFinished call, in order. */
  readonly finished: StreamSession[];
  readonly logs: Array<{ msg: string } & Record<string, unknown>>;
  /** The worker's backlog and interaction order, shared by every session of the harness. */
  readonly backlog: WorkerBacklog;
  readonly order: InteractionOrder;
  /** Another session of the same worker: its own socket; the same publisher, stats, logs, backlog and order. */
  another(source?: Source): { session: StreamSession; transport: FakeTransport };
}

export interface HarnessOptions {
  readonly limits?: Partial<SessionLimits>;
  /** The reply dialect at construction; null for a source that gets no replies (telephony). */
  readonly messages?: ServerMessages | null;
  /** MAX_WORKER_BACKLOG_BYTES (default: large enough never to matter). */
  readonly workerBacklogBytes?: number;
}

export function openSession(t: TestContext, options: HarnessOptions = {}): Harness {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const transport = new FakeTransport();
  const publisher = new ScriptedPublisher();
  const stats = new WorkerStats();
  const finished: StreamSession[] = [];
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as never) });
  const messages = options.messages === null ? undefined : (options.messages ?? new ServerMessages('v1'));
  const backlog = new WorkerBacklog(options.workerBacklogBytes ?? 1 << 30);
  const order = new InteractionOrder();
  const deps: SessionDeps = {
    limits: { ...LIMITS, ...options.limits },
    publisher,
    logger,
    stats,
    backlog,
    order,
    onFinished: finished.push.bind(finished),
  };
  const session = new StreamSession(transport, 'tenant-a', 'native', deps, messages);
  const another = (source: Source = 'native'): { session: StreamSession; transport: FakeTransport } => {
    const socket = new FakeTransport();
    return { session: new StreamSession(socket, 'tenant-a', source, deps, messages), transport: socket };
  };
  return { session, transport, publisher, stats, finished, logs, backlog, order, another };
}

/** A frame of `bytes` bytes, filled with `fill` so that payloads can be told apart. */
export function frameOf(bytes: number, fill = 1): Buffer {
  return Buffer.alloc(bytes, fill);
}

/** The peer closed the socket: ws's 'close' event, which the source binding forwards. */
export function peerCloses(h: Harness, code: number): void {
  h.transport.isOpen = false;
  h.session.onSocketClosed(code);
}

/**
 * Waits until `condition` holds, letting promise callbacks and I/O run between
 * checks (mock timers leave setImmediate real). Fails, naming `what`, if it never does.
 */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 1000; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`never happened: ${what}`);
}

export function typesOf(records: readonly IngestRecord[]): string[] {
  return records.map((r) => r.type);
}

/** The stream_ended record sent to the publisher; fails when there is none. */
export function endedRecord(publisher: ScriptedPublisher): StreamEndedRecord {
  const ended = publisher.records().find((r): r is StreamEndedRecord => r.type === 'stream_ended');
  assert.ok(ended, 'a stream_ended record was published');
  return ended;
}
