/**
 * Plays the cases that the ws client library cannot send, on a raw TCP socket:
 * broken frames after a hand-written handshake (FrameCase), and broken HTTP
 * upgrades (HttpCase). Reports the close code of the server's close frame
 * (1006 when the socket ended without one) or the HTTP status (0: none).
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { FrameCase, HttpCase } from './raw-cases';
import { encodeFrame, OPCODE, readFrames } from './websocket-frames';

export interface RawEndpoint {
  readonly port: number;
  readonly token: string;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Collects what the socket receives, until `done` says so or the socket ends. */
function collect(
  socket: net.Socket,
  done: (received: Buffer) => boolean,
  deadlineMs: number,
  what: string,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', finish);
      resolve(received);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (done(received)) finish();
    };
    const timer = setTimeout(() => {
      socket.off('data', onData);
      socket.off('close', finish);
      socket.destroy();
      reject(new Error(`no ${what} within ${deadlineMs} ms`));
    }, deadlineMs);
    socket.on('data', onData);
    socket.once('close', finish);
    socket.on('error', () => undefined); // a reset ends it like a close
  });
}

const HEADERS_END = Buffer.from('\r\n\r\n');

/** The frames after a completed handshake, or the close code; `started` with a valid start sent first. */
export async function playFrameCase(
  endpoint: RawEndpoint,
  fcase: FrameCase,
  deadlineMs: number,
): Promise<{ code: number }> {
  const socket = await connect(endpoint.port);
  try {
    const key = randomBytes(16).toString('base64');
    socket.write(
      'GET /v1/ingest HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\nAuthorization: Bearer ${endpoint.token}\r\n\r\n`,
    );
    const head = await collect(socket, (r) => r.includes(HEADERS_END), deadlineMs, 'handshake answer');
    const status = head.toString('latin1', 0, 12);
    if (!status.startsWith('HTTP/1.1 101')) throw new Error(`handshake answered ${status}`);
    let pending = head.subarray(head.indexOf(HEADERS_END) + 4);
    if (fcase.afterStart) {
      socket.write(
        encodeFrame({
          opcode: OPCODE.text,
          payload: Buffer.from(
            `{"type":"start","interaction_id":"raw-${key.slice(0, 8).replace(/[^A-Za-z0-9]/g, 'x')}"}`,
          ),
        }),
      );
      const more = await collect(
        socket,
        (r) => Buffer.concat([pending, r]).includes('"started"'),
        deadlineMs,
        'started',
      );
      pending = Buffer.concat([pending, more]);
      if (!pending.includes('"started"')) throw new Error('the connection closed before `started`');
      pending = readFrames(pending).rest;
    }
    for (const chunk of fcase.writes) socket.write(chunk);
    let code: number | undefined;
    await collect(
      socket,
      (r) => {
        const { frames } = readFrames(Buffer.concat([pending, r]));
        const close = frames.find((f) => f.opcode === OPCODE.close);
        if (close) code = close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
        return close !== undefined;
      },
      deadlineMs,
      'close frame',
    );
    return { code: code ?? 1006 };
  } finally {
    socket.destroy();
  }
}

/** The status of the answer to a raw request head (0 when the socket closed without one). */
export async function playHttpCase(
  endpoint: RawEndpoint,
  hcase: HttpCase,
  deadlineMs: number,
): Promise<{ status: number }> {
  const socket = await connect(endpoint.port);
  try {
    socket.write(hcase.request.replace('TOKEN', endpoint.token));
    const answer = await collect(socket, (r) => r.includes('\r\n'), deadlineMs, 'HTTP answer');
    const match = /^HTTP\/1\.1 (\d{3})/.exec(answer.toString('latin1'));
    return { status: match ? Number(match[1]) : 0 };
  } finally {
    socket.destroy();
  }
}

/**
 * Slowloris: starts an upgrade and sends one more header byte every
 * `intervalMs`, never ending the head. Returns a stop function and whether the
 * server closed the socket meanwhile, with the answer it gave if any.
 */
export async function startSlowUpgrade(
  port: number,
  intervalMs: number,
): Promise<{ stop: () => void; closed: () => boolean; answer: () => string }> {
  const socket = await connect(port);
  let closed = false;
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  socket.once('close', () => (closed = true));
  socket.write('GET /v1/ingest HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nX-Slow: ');
  const timer = setInterval(() => {
    if (!closed) socket.write('s');
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
    closed: () => closed,
    answer: () => answer,
  };
}
