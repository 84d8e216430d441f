/**
 * The load generator's accounting against a scripted fake server: the server
 * keeps its own log of what it received and what it answered, and the report
 * must say exactly that. Three streams: `-0` is acked every 10th frame after
 * 30 ms and committed every 25th; `-1` gets 10 frames committed, then a 1012
 * close at frame 20 and must resume from first_seq 11, re-sending 11-20; `-2`
 * is refused once with 503 and Retry-After (then retried), committed up to 20
 * and never again, and its stop is answered with a bare close: its frames
 * after 20 are lost and the stream failed. Streams of other prefixes are
 * scripted for one test each: `outage-*` (no answer until frame 1300),
 * `slowstop-*` (`stopped` 1.5 s late), `unanswered-*` (4 upgrades dropped).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import jwt from 'jsonwebtoken';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseLoadgenArgs } from '../../../src/client/loadgen/loadgen-options';
import { exitStatusOf } from '../../../src/client/loadgen/loadgen-report';
import { MEASURED_MARKER, MEASURING_MARKER, runLoadgen } from '../../../src/client/loadgen/loadgen-run';
import { privateKeyFile } from './loadgen-run-cli';

const ACK_DELAY_MS = 30;
const COMMIT_DELAY_MS = 50;

/** What the fake server did for one interaction. */
interface ServerLog {
  /** Distinct seqs received. */
  readonly seqs: Set<number>;
  /** Frames received, re-sends included. */
  received: number;
  /** The highest ack / committed the server delivered (`stopped.last_seq` raises both). */
  acked: number;
  committed: number;
  /** Acks and commits that raised the highest (the ones the client measures). */
  newAcks: number;
  newCommits: number;
  firstSeqs: number[];
  upgrades: number;
}

function startFakeServer(t: TestContext): Promise<{ url: string; logs: Map<string, ServerLog> }> {
  const logs = new Map<string, ServerLog>();
  const logOf = (id: string): ServerLog => {
    let log = logs.get(id);
    if (!log) {
      log = {
        seqs: new Set(),
        received: 0,
        acked: 0,
        committed: 0,
        newAcks: 0,
        newCommits: 0,
        firstSeqs: [],
        upgrades: 0,
      };
      logs.set(id, log);
    }
    return log;
  };
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  server.on('upgrade', (req, socket, head) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const claims = jwt.decode(token) as { interaction_id: string; tenant_id: string } | null;
    assert.ok(claims, 'every upgrade carries a signed token');
    assert.equal(claims.tenant_id, 'fake-tenant');
    const log = logOf(claims.interaction_id);
    log.upgrades++;
    // `unanswered-*`: the first 4 attempts get no answer at all (the socket is dropped).
    if (claims.interaction_id.startsWith('unanswered-') && log.upgrades <= 4) {
      socket.destroy();
      return;
    }
    if (claims.interaction_id.endsWith('-2') && log.upgrades === 1) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => play(ws, claims.interaction_id, log, later));
  });
  t.after(async () => {
    for (const timer of timers) clearTimeout(timer);
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `ws://127.0.0.1:${port}/v1/ingest`, logs });
    }),
  );
}

function play(ws: WebSocket, id: string, log: ServerLog, later: (ms: number, fn: () => void) => void): void {
  const kind = Number(id.slice(id.lastIndexOf('-') + 1));
  // `outage-*`: nothing answered until frame 1300, then a late ack of 100 and a commit of 1..1300.
  const outage = id.startsWith('outage-');
  const deliver = (message: { type: string; seq?: number; last_seq?: number; next_seq?: number }): void => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify(message));
    if (message.type === 'ack' && message.seq! > log.acked) {
      log.acked = message.seq!;
      log.newAcks++;
    }
    // `stopped` confirms, and so acknowledges, the tail after the last ack (no latency sample for it).
    if (message.type === 'stopped' && message.last_seq! > log.acked) log.acked = message.last_seq!;
    const confirmed = message.type === 'committed' ? message.seq! : message.type === 'stopped' ? message.last_seq! : 0;
    if (confirmed > log.committed) {
      log.committed = confirmed;
      log.newCommits++;
    }
  };
  let next = 0;
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) {
      const message = JSON.parse(data.toString()) as { type: string; first_seq?: number };
      if (message.type === 'start') {
        log.firstSeqs.push(message.first_seq!);
        next = message.first_seq!;
        deliver({ type: 'started', next_seq: next });
      } else if (message.type === 'stop') {
        if (id.startsWith('slowstop-'))
          later(1500, () => {
            deliver({ type: 'stopped', last_seq: next - 1 });
            ws.close(1000, 'stream stopped');
          });
        else if (kind === 2) ws.close(1000, 'no stopped for you');
        else {
          deliver({ type: 'stopped', last_seq: next - 1 });
          ws.close(1000, 'stream stopped');
        }
      }
      return;
    }
    const seq = next++;
    assert.equal(data.readUInt32LE(4), seq, `${id}: frame ${seq} carries its seq`);
    log.received++;
    log.seqs.add(seq);
    if (outage) {
      if (seq === 1300) {
        deliver({ type: 'ack', seq: 100 });
        deliver({ type: 'committed', seq: 1300 });
      }
      return;
    }
    if (seq % 10 === 0) later(ACK_DELAY_MS, () => deliver({ type: 'ack', seq }));
    if (kind === 0 && seq % 25 === 0) later(COMMIT_DELAY_MS, () => deliver({ type: 'committed', seq }));
    if (kind === 1 && seq === 10) deliver({ type: 'committed', seq: 10 });
    if (kind === 1 && seq === 20 && log.firstSeqs.length === 1) ws.close(1012, 'restart');
    if (kind === 2 && seq === 20) deliver({ type: 'committed', seq: 20 });
  });
}

function ecKeyFile(t: TestContext): string {
  return privateKeyFile(t, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

function stderrSink(): { sink: Writable; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { sink, text: () => text };
}

test('the report counts exactly the acks, commits, resumes, refusals and losses the server produced', async (t) => {
  const { url, logs } = await startFakeServer(t);
  const keyFile = ecKeyFile(t);
  const options = parseLoadgenArgs([
    ...['--url', url, '--streams', '3', '--seconds', '1.5', '--threads', '2'],
    ...['--private-key', keyFile, '--tenant', 'fake-tenant', '--interaction-prefix', 'acct'],
  ])!;
  const { sink, text } = stderrSink();
  const report = await runLoadgen(options, { stderr: sink, finishTimeoutMs: 5000 });
  const stderr = text();

  assert.equal(stderr, `${MEASURING_MARKER}\n${MEASURED_MARKER}\n`, 'the markers, and nothing else off a terminal');
  const log = (i: number): ServerLog => logs.get(`acct-${i}`)!;
  const [a, b, c] = [log(0), log(1), log(2)];
  assert.deepEqual(b.firstSeqs, [1, 11], 'the resume starts at last committed + 1');
  assert.deepEqual(c.firstSeqs, [1], 'the refused upgrade was retried');
  for (const s of [a, b, c]) assert.equal(s.seqs.size, Math.max(...s.seqs), 'frames 1..n, none skipped');

  const sent = a.seqs.size + b.seqs.size + c.seqs.size;
  assert.equal(report.streams_requested, 3);
  assert.equal(report.streams_started, 3);
  assert.equal(report.streams_failed, 1);
  assert.equal(report.frames_sent, sent);
  assert.equal(report.frames_resent, a.received + b.received + c.received - sent);
  // 11-20, and more if frames were on their way when the 1012 came (the server's log counts those too).
  assert.ok(report.frames_resent >= 10, `stream 1 re-sent 11-20, and ${report.frames_resent} in all`);
  assert.equal(report.frames_acked, a.acked + b.acked + c.acked);
  assert.equal(report.frames_committed, a.committed + b.committed + c.committed);
  assert.equal(c.committed, 20);
  assert.equal(report.lost_frames, c.seqs.size - 20);
  assert.equal(report.ack_latency_ms!.count, a.newAcks + b.newAcks + c.newAcks);
  assert.equal(report.commit_latency_ms!.count, a.newCommits + b.newCommits + c.newCommits);
  assert.ok(report.ack_latency_ms!.p50 >= ACK_DELAY_MS, `ack p50 ${report.ack_latency_ms!.p50} ≥ the server's delay`);
  // An upper bound would measure the test machine's load, not the accounting: only what the server controls.
  assert.ok(report.ack_latency_ms!.max >= report.ack_latency_ms!.p50, `ack max ${report.ack_latency_ms!.max}`);
  assert.deepEqual(report.refused, { 503: 1 });
  assert.equal(report.failed_connections, 0);
  assert.deepEqual(report.closes, { 1000: 3, 1012: 1 });
  assert.equal(report.resumes, 2, 'one after the 1012, one after the 503');
  assert.equal(report.measure.seconds, 1.5);
  assert.ok(report.measure.frames_sent > 0 && report.measure.frames_sent <= report.frames_sent);
  assert.equal(report.verify, undefined);
  assert.deepEqual(report.per_stream, [
    {
      interaction_id: 'acct-0',
      sent: a.seqs.size,
      acked: a.acked,
      committed: a.committed,
      closes: { 1000: 1 },
      outcome: 'done',
    },
    {
      interaction_id: 'acct-1',
      sent: b.seqs.size,
      acked: b.acked,
      committed: b.committed,
      closes: { 1000: 1, 1012: 1 },
      outcome: 'done',
    },
    {
      interaction_id: 'acct-2',
      sent: c.seqs.size,
      acked: c.acked,
      committed: 20,
      closes: { 1000: 1 },
      outcome: 'failed: closed with 1000 (no stopped for you), not a close to resume after',
    },
  ]);
  assert.equal(exitStatusOf(report), 1);
});

test('a read-back that cannot reach its backend leaves a report saying why, and exit 1', async (t) => {
  const { url } = await startFakeServer(t);
  const options = parseLoadgenArgs([
    ...['--url', url, '--streams', '1', '--seconds', '0.3', '--private-key', ecKeyFile(t)],
    ...['--tenant', 'fake-tenant', '--interaction-prefix', 'vfail', '--verify', 'redis://127.0.0.1:1'],
    ...['--verify-timeout-seconds', '1'],
  ])!;
  const report = await runLoadgen(options, { stderr: stderrSink().sink, finishTimeoutMs: 5000 });
  assert.equal(report.streams_failed, 0);
  assert.equal(report.lost_frames, 0, 'every frame was confirmed; the read-back did not run');
  assert.ok(report.verify && 'error' in report.verify, JSON.stringify(report.verify));
  assert.equal(typeof report.verify.error.code, 'string');
  assert.match(report.verify.error.message, /ECONNREFUSED|connect/i);
  assert.ok(report.warnings.some((w) => w.startsWith('the read-back failed')));
  assert.equal(exitStatusOf(report), 1);
});

test('frames older than the send-time ring are still measured after an outage: from their due time', async (t) => {
  const { url, logs } = await startFakeServer(t);
  // 1 ms frames: 1300 frames pass in 1.3 s, past the 1024 send times a stream keeps.
  const options = parseLoadgenArgs([
    ...['--url', url, '--streams', '1', '--seconds', '2', '--frame-ms', '1', '--private-key', ecKeyFile(t)],
    ...['--tenant', 'fake-tenant', '--interaction-prefix', 'outage'],
  ])!;
  const report = await runLoadgen(options, { stderr: stderrSink().sink, finishTimeoutMs: 5000 });
  const log = logs.get('outage-0')!;
  assert.ok(log.seqs.has(1300), `the stream got past frame 1300 (${log.seqs.size} frames)`);
  assert.equal(report.latency_samples_missing, 0);
  // The late ack of frame 100 (long out of the ring) and the commit's oldest frame (1) are both measured.
  assert.equal(report.ack_latency_ms!.count, 1);
  assert.ok(report.ack_latency_ms!.max >= 1000, `frame 100 waited about 1.2 s: ${report.ack_latency_ms!.max}`);
  assert.ok(
    report.oldest_frame_commit_latency_ms!.max >= 1200,
    `frame 1: ${report.oldest_frame_commit_latency_ms!.max}`,
  );
  assert.equal(report.frames_acked, log.seqs.size, 'stopped acknowledged the tail');
});

test('an interruption before the threads are ready ends the run at once: no traffic, no markers', async (t) => {
  const { url, logs } = await startFakeServer(t);
  const options = parseLoadgenArgs([
    ...['--url', url, '--streams', '2', '--seconds', '60', '--private-key', ecKeyFile(t)],
    ...['--tenant', 'fake-tenant', '--interaction-prefix', 'early'],
  ])!;
  const abort = new AbortController();
  const { sink, text } = stderrSink();
  const running = runLoadgen(options, { stderr: sink, signal: abort.signal, finishTimeoutMs: 5000 });
  abort.abort(); // the threads are still starting: runLoadgen is past its first await only once they are ready
  const report = await running;
  assert.equal(text(), '', 'no marker: the window never began');
  assert.equal(report.frames_sent, 0);
  assert.equal(report.measure.seconds, 0);
  assert.equal(logs.size, 0, 'nothing connected');
});

test('an interruption during the ramp ends the run with no marker, even while streams take long to stop', async (t) => {
  const { url, logs } = await startFakeServer(t);
  const options = parseLoadgenArgs([
    ...['--url', url, '--streams', '1', '--seconds', '5', '--warmup-seconds', '0.6', '--private-key', ecKeyFile(t)],
    ...['--tenant', 'fake-tenant', '--interaction-prefix', 'slowstop'],
  ])!;
  const abort = new AbortController();
  const { sink, text } = stderrSink();
  const running = runLoadgen(options, { stderr: sink, signal: abort.signal, finishTimeoutMs: 5000 });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if ((logs.get('slowstop-0')?.seqs.size ?? 0) > 0) {
        clearInterval(poll);
        resolve();
      }
    }, 10);
  });
  abort.abort(); // the warmup is still running; `stopped` comes only after the window would have begun
  const report = await running;
  assert.equal(text(), '', 'no `loadgen: measuring` after the interruption');
  assert.equal(report.streams_failed, 0);
  assert.equal(report.measure.seconds, 0);
});

test('attempts that get no answer are retried (growing delays, not resumes) until one gets through', async (t) => {
  const { url, logs } = await startFakeServer(t);
  const options = parseLoadgenArgs([
    ...['--url', url, '--streams', '1', '--seconds', '0.5', '--private-key', ecKeyFile(t)],
    ...['--tenant', 'fake-tenant', '--interaction-prefix', 'unanswered'],
  ])!;
  const report = await runLoadgen(options, { stderr: stderrSink().sink, finishTimeoutMs: 15_000 });
  assert.equal(logs.get('unanswered-0')!.upgrades, 5);
  assert.equal(report.failed_connections, 4);
  assert.equal(report.resumes, 0, 'no connection had opened: nothing was resumed');
  assert.equal(report.streams_failed, 0, JSON.stringify(report.per_stream));
  assert.equal(report.lost_frames, 0);
});
