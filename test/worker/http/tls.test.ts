/**
 * SSL_KEY_PATH + SSL_CERT_PATH: the same server speaks HTTPS and WSS.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
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
