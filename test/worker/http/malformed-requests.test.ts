/**
 * What a request the HTTP parser refuses gets (http-listener.ts): the status
 * Node itself would give, so a client or proxy can tell an oversized head
 * (431) from a broken one (400), on plain requests and upgrades alike.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startTestServer } from '../../support/ingest-server';

function rawAnswer(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.once('close', () => resolve(answer));
    socket.once('error', reject);
  });
}

const UPGRADE =
  'GET /v1/ingest HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

test('a request head over the 16 KiB limit is answered 431 Request Header Fields Too Large, not 400', async (t) => {
  const server = await startTestServer(t);
  const upgrade = await rawAnswer(server.port, `${UPGRADE}X-Pad: ${'p'.repeat(20 * 1024)}\r\n\r\n`);
  assert.match(upgrade, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  const plain = await rawAnswer(
    server.port,
    `GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(20 * 1024)}\r\n\r\n`,
  );
  assert.match(plain, /^HTTP\/1\.1 431 /);
});

test('a malformed request is answered 400 Bad Request and closed', async (t) => {
  const server = await startTestServer(t);
  assert.match(await rawAnswer(server.port, `${UPGRADE}NoColonHere\r\n\r\n`), /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(await rawAnswer(server.port, 'GET /v1/ingest HTTP/9\x00\r\n\r\n'), /^HTTP\/1\.1 400 /);
});
