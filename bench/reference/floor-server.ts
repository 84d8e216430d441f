/**
 * The benchmark's floor: a bare `ws` server doing only what the protocol's
 * happy path needs on the wire. JWT verified at the upgrade, `start` →
 * `started`, an `ack` every 10th frame, `stop` → `stopped` and close 1000.
 * It keeps no audio and publishes nothing, so its CPU per frame is what
 * reading a WebSocket frame costs in Node.js with `ws`: nothing a real
 * ingestion service could go below.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { referenceEnv, runReferenceServer, startReferenceListener } from './reference-listener';

const ACK_INTERVAL = 10;

interface StartMessage {
  readonly type?: string;
  readonly interaction_id?: unknown;
  readonly first_seq?: unknown;
}

function serveStream(ws: WebSocket): void {
  let nextSeq = 0;
  let received = 0;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      if (nextSeq === 0) return ws.close(1008, 'frame before start');
      const seq = nextSeq++;
      if (++received % ACK_INTERVAL === 0) ws.send(`{"type":"ack","seq":${seq}}`);
      return;
    }
    let msg: StartMessage;
    try {
      msg = JSON.parse(data.toString('utf8')) as StartMessage;
    } catch {
      return ws.close(1008, 'invalid JSON');
    }
    if (msg.type === 'start' && nextSeq === 0 && typeof msg.interaction_id === 'string') {
      nextSeq = typeof msg.first_seq === 'number' ? msg.first_seq : 1;
      const started = {
        type: 'started',
        stream_id: randomUUID(),
        interaction_id: msg.interaction_id,
        next_seq: nextSeq,
      };
      ws.send(JSON.stringify(started));
    } else if (msg.type === 'stop' && nextSeq !== 0) {
      ws.send(JSON.stringify({ type: 'stopped', last_seq: nextSeq - 1, frames: received }));
      ws.close(1000, 'stream stopped');
    } else if (msg.type !== 'keepalive') {
      ws.close(1008, 'unexpected message');
    }
  });
  ws.on('error', () => ws.terminate());
}

runReferenceServer(
  () => startReferenceListener({ ...referenceEnv(process.env), onStream: serveStream }),
  async () => undefined,
);
