/**
 * SSL_KEY_PATH + SSL_CERT_PATH: the same server speaks HTTPS and WSS.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../../support/ingest-server';
import { selfSignedCertificate } from '../../support/self-signed-certificate';

function selfSignedCertificateFor(t: { after: (fn: () => void) => void }): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return selfSignedCertificate(dir);
}

test(
  'with SSL_KEY_PATH and SSL_CERT_PATH the service serves ' + 'streams over wss:// and /health over https://',
  async (t) => {
    const { key, cert } = selfSignedCertificateFor(t);
    const server = await startTestServer(t, { SSL_KEY_PATH: key, SSL_CERT_PATH: cert });
    assert.match(server.url, /^wss:\/\//);
    const client = await server.connect({ insecure: true });
    await client.start({ interactionId: 'tls-call' });
    client.sendFrame(Buffer.alloc(160, 3));
    const { close } = await client.stop();
    assert.equal(close.code, 1000);
    const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: server.port, path: '/health', rejectUnauthorized: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'healthy');
  },
);

test('a TLS handshake that never completes does not delay shutdown: the pending socket is destroyed', async (t) => {
  const { key, cert } = selfSignedCertificateFor(t);
  const server = await startTestServer(t, { SSL_KEY_PATH: key, SSL_CERT_PATH: cert });
  // A client that opens the TLS port and never sends its ClientHello.
  const silent = net.connect(server.port, '127.0.0.1');
  t.after(() => silent.destroy());
  silent.on('error', () => undefined); // the server resets it
  const silentClosed = once(silent, 'close');
  await once(silent, 'connect');
  // An answered probe on a later connection: the server has accepted the silent one before it.
  assert.equal((await httpsGet(server.port, '/live')).status, 200);
  let deadline: NodeJS.Timeout | undefined;
  const tooLate = new Promise<'late'>((resolve) => (deadline = setTimeout(() => resolve('late'), 10_000)));
  const outcome = await Promise.race([server.server.close().then(() => 'closed' as const), tooLate]);
  clearTimeout(deadline);
  if (outcome === 'late') silent.destroy(); // or the server's own close would wait on it after the test
  assert.equal(outcome, 'closed', 'shutdown did not wait for the handshake (tls handshakeTimeout is 120 s)');
  await silentClosed;
});

function httpsGet(port: number, path: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      })
      .on('error', reject);
  });
}
