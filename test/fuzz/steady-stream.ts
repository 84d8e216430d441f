/**
 * A well-behaved native stream that runs beside the fuzzer on the same
 * workers: it sends batches of ACK_INTERVAL frames, each after the previous
 * batch's ack, until told to finish, then stops. What it saw (every
 * `committed` seq in arrival order, `stopped`, the close) is checked against
 * what it sent: hostile neighbours must not cost it a frame or reorder it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { IngestClient, type CloseInfo, type ServerMessage } from '../../src/client/ingest-client';
import { frameBytes } from '../support/ingest-server';
import type { SentStream } from '../support/stream-check';

/** One batch every this many ms: 10 frames per 50 ms, a 20 ms-frame stream's pace with room to spare. */
const PACE_MS = 50;

export interface SteadyResult {
  readonly sent: SentStream;
  readonly committed: number[];
  readonly stopped: ServerMessage | undefined;
  readonly close: CloseInfo;
}

export async function runSteadyStream(
  url: string,
  token: string,
  streamIndex: number,
  ackInterval: number,
  finish: Promise<void>,
): Promise<SteadyResult> {
  const interactionId = `steady-${process.pid}-${streamIndex}`;
  const client = await IngestClient.connect(url, { token });
  const committed: number[] = [];
  client.ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) return;
    const message = JSON.parse(data.toString('utf8')) as ServerMessage;
    if (message.type === 'committed') committed.push(message.seq as number);
  });
  let finished = false;
  void finish.then(() => (finished = true));
  await client.start({ interactionId });
  const frames: Buffer[] = [];
  while (!finished && !client.closeState) {
    for (let i = 0; i < ackInterval; i++) {
      const seq = frames.length + 1;
      const frame = frameBytes(streamIndex, seq, 160 + (seq % 5));
      frames.push(frame);
      client.sendFrame(frame);
    }
    const last = frames.length;
    await client.waitForMessage((m) => m.type === 'ack' && m.seq === last);
    // Keep the messages list short: it is scanned on every arrival.
    client.messages.splice(0, client.messages.length);
    await delay(PACE_MS); // real-time-like load, not a busy loop beside the fuzzer
  }
  const { stopped, close } = await client.stop();
  return { sent: { interactionId, tenantId: 'tenant-a', frames, firstSeq: 1 }, committed, stopped, close };
}
