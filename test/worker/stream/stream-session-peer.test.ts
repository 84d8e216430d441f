/**
 * What a session asks of its peer: that it reads its replies (MAX_SEND_BUFFER_BYTES) and
 * answers the server's own pings. A peer that does neither must not hold memory or
 * pass for alive.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameOf, openSession, peerCloses, START, until } from '../../support/session-harness';

test('replies past MAX_SEND_BUFFER_BYTES unread close the stream 1008 send_buffer_full and stop sending', async (t) => {
  const h = openSession(t, { limits: { maxSendBufferBytes: 4096 } });
  h.publisher.confirmAll();
  h.session.begin(START);
  const sentBefore = h.transport.sent.length;
  h.transport.bufferedAmount = 4090; // the client stopped reading: its replies pile up in the socket
  for (let i = 1; i <= 10; i++) h.session.frame(frameOf(10, i)); // ACK_INTERVAL 2: five acks due
  assert.equal(h.transport.sent.length, sentBefore, 'no reply joins a full send buffer');
  await until(() => h.transport.closedWith !== undefined, 'the socket closed');
  assert.equal(h.transport.closedWith?.code, 1008);
  assert.match(h.transport.closedWith?.reason ?? '', /MAX_SEND_BUFFER_BYTES \(4096\)/);
  assert.equal(h.transport.sent.length, sentBefore, 'not even the error message: it would not be read either');
  assert.equal(h.stats.sendBufferOverflows, 1);
  const lines = h.logs.filter((l) => l.code === 'send_buffer_full');
  assert.equal(lines.length, 1, 'logged once');
  assert.equal(lines[0].msg, '4090 bytes of replies unread: over MAX_SEND_BUFFER_BYTES (4096)');
  peerCloses(h, 1006);
  await until(() => h.finished.length === 1, 'the session finished');
  assert.equal(h.publisher.records().at(-1)?.type, 'stream_ended', 'what was received is still published');
});

test('replies under MAX_SEND_BUFFER_BYTES are sent while the client keeps up', (t) => {
  const h = openSession(t, { limits: { maxSendBufferBytes: 4096 } });
  h.session.begin(START);
  h.transport.bufferedAmount = 1000;
  for (let i = 1; i <= 4; i++) h.session.frame(frameOf(10, i));
  assert.deepEqual(h.transport.replyTypes(), ['started', 'ack', 'ack']);
  assert.equal(h.stats.sendBufferOverflows, 0);
});

test('an unsolicited pong does not satisfy the liveness check: only the answer to our own ping does', (t) => {
  const h = openSession(t);
  h.publisher.confirmAll();
  h.session.begin(START);
  const pings: Buffer[] = [];
  const ping = (payload: Buffer): void => void pings.push(payload);
  assert.equal(h.session.heartbeat(ping), true);
  h.session.pong(Buffer.alloc(0)); // an unsolicited pong: no payload
  h.session.pong(Buffer.from('guess'));
  assert.equal(h.session.heartbeat(ping), false, 'pongs that answer nothing prove nothing');
  assert.equal(h.transport.terminated, true);
  assert.equal(h.stats.pongsIgnored, 2);
});

test('a pong answering an older ping does not answer the current one', (t) => {
  const h = openSession(t);
  h.session.begin(START);
  const pings: Buffer[] = [];
  const ping = (payload: Buffer): void => void pings.push(payload);
  assert.equal(h.session.heartbeat(ping), true);
  h.session.pong(pings[0]);
  assert.equal(h.session.heartbeat(ping), true);
  assert.notDeepEqual(pings[1], pings[0], 'each ping has its own payload');
  h.session.pong(pings[0]); // replayed
  assert.equal(h.session.heartbeat(ping), false);
});
