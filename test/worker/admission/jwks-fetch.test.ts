/**
 * One key-set GET against a real HTTP server on 127.0.0.1: its deadline covers
 * the whole exchange, a large or non-JSON answer is refused, an error status
 * or a refused connection is reported as such, and an abort ends it at once;
 * every failure carries the result it is counted under.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { fetchJwks, JwksFetchError, type JwksFetchResult } from '../../../src/worker/admission/jwks-fetch';

/** A server whose every request is handled by `handler`; returns its URL and its open sockets. */
async function serve(
  t: TestContext,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ url: string; open: () => number }> {
  const server = http.createServer(handler);
  let open = 0;
  server.on('connection', (socket) => {
    open++;
    socket.on('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, open: () => open };
}

async function failure(promise: Promise<unknown>): Promise<JwksFetchError> {
  const err = await promise.then(
    () => assert.fail('the fetch succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof JwksFetchError, `a JwksFetchError (got ${String(err)})`);
  assert.equal(err.code, 'jwks_fetch_failed');
  return err;
}

function expectResult(err: JwksFetchError, result: JwksFetchResult, message: RegExp): void {
  assert.equal(err.result, result);
  assert.match(err.message, message);
}

test('a 2xx JSON answer is the parsed key set', async (t) => {
  const { url } = await serve(t, (_req, res) => res.end('{"keys":[]}'));
  assert.deepEqual(await fetchJwks(url, { timeoutMs: 2000 }), { keys: [] });
});

test('the fetch deadline covers the whole exchange: headers and then a stall time out', async (t) => {
  const { url, open } = await serve(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write('{"keys":['); // and never more
  });
  const started = Date.now();
  expectResult(await failure(fetchJwks(url, { timeoutMs: 300 })), 'timeout', /no complete answer within 300 ms/);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 2000, `timed out after ${elapsed} ms`);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(open(), 0, 'the connection is closed, not left behind');
});

test('an error status is an http_error, whatever the body', async (t) => {
  const { url } = await serve(t, (_req, res) => res.writeHead(503).end('{"keys":[]}'));
  expectResult(await failure(fetchJwks(url, { timeoutMs: 2000 })), 'http_error', /HTTP 503/);
});

test('a redirect is not followed: it is an http_error', async (t) => {
  const { url } = await serve(t, (_req, res) => res.writeHead(302, { Location: 'http://example.com/' }).end());
  expectResult(await failure(fetchJwks(url, { timeoutMs: 2000 })), 'http_error', /HTTP 302/);
});

test('an answer over the size cap is refused as invalid while it is read', async (t) => {
  const { url } = await serve(t, (_req, res) => res.end(`{"keys":[],"pad":"${'x'.repeat(5000)}"}`));
  expectResult(await failure(fetchJwks(url, { timeoutMs: 2000, maxBytes: 1024 })), 'invalid', /over 1024 bytes/);
});

test('an answer that is not JSON is invalid', async (t) => {
  const { url } = await serve(t, (_req, res) => res.end('<html>login</html>'));
  expectResult(await failure(fetchJwks(url, { timeoutMs: 2000 })), 'invalid', /not JSON/);
});

test('a refused connection is a network_error', async (t) => {
  const { url } = await serve(t, () => undefined);
  const closed = url.replace(/:\d+\//, ':1/');
  expectResult(await failure(fetchJwks(closed, { timeoutMs: 2000 })), 'network_error', /ECONNREFUSED/);
});

test('an abort ends the fetch at once, with the reason given', async (t) => {
  const { url, open } = await serve(t, () => undefined); // never answers
  const controller = new AbortController();
  const fetching = fetchJwks(url, { timeoutMs: 10_000, signal: controller.signal });
  await new Promise((r) => setTimeout(r, 50));
  controller.abort(new JwksFetchError('aborted', 'closing'));
  expectResult(await failure(fetching), 'aborted', /closing/);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(open(), 0, 'the connection is closed');
});

test('over https the certificate is verified: an untrusted certificate is a network_error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jwks-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
  execFileSync('openssl', [...args, '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (_req, res) =>
    res.end('{"keys":[]}'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  expectResult(await failure(fetchJwks(url, { timeoutMs: 2000 })), 'network_error', /self[- ]signed certificate/);
});
