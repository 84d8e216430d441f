/**
 * Keys from a JWKS endpoint, end to end (issue 9): a real worker server
 * in-process and a real key-set endpoint (node:http on 127.0.0.1, which plain
 * http may reach). Rotation needs no restart, an unknown kid is refused, the
 * cached keys outlive an endpoint outage, HMAC and none keys of the set are
 * ignored, a slow endpoint holds only the upgrades that need it (and those
 * still meet the limits, the drain and a client that leaves), and /health
 * and the metrics report the key set's age.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import type { IngestClient } from '../../../src/client/ingest-client';
import { createWorkerMetrics } from '../../../src/worker/metrics/worker-metrics';
import { httpGet, pollUntil } from '../../support/http-get';
import { startTestServer, type TestServer } from '../../support/ingest-server';
import { refusedUpgrade } from '../../support/refused-upgrade';
import { kidKeyPair, startJwksServer, type JwksServer } from '../../support/jwks-server';
import { hmacTokenWithPublicKey } from '../../support/tokens';

/** Every test ends within this, also when the behaviour it checks is broken (a wait that never ends). */
const LIMIT = { timeout: 20_000 };

const A = kidKeyPair('key-a', 'ec');
const B = kidKeyPair('key-b', 'rsa');

/** A worker whose keys come from `jwks` (alone unless `pem` keeps the default PEM key), with a short cooldown. */
async function jwksWorker(
  t: TestContext,
  jwks: JwksServer,
  env: Record<string, string> = {},
  pem = false,
): Promise<TestServer> {
  return startTestServer(t, {
    ...(pem ? {} : { JWT_PUBLIC_KEY: '' }),
    JWT_JWKS_URL: jwks.url,
    JWT_JWKS_COOLDOWN_MS: '100',
    ...env,
  });
}

/** Waits out the cooldown, so that the next unknown kid may fetch. */
function afterCooldown(ms = 150): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function assertStreams(client: IngestClient, interactionId = 'call-jwks'): Promise<void> {
  assert.equal((await client.start({ interactionId })).type, 'started');
  const { close } = await client.stop();
  assert.equal(close.code, 1000);
}

/** Resolves `promise`'s outcome, or 'pending' when it has not settled after `ms`. */
async function stillPending(promise: Promise<unknown>, ms = 100): Promise<boolean> {
  const marker = Symbol('pending');
  const outcome = await Promise.race([
    promise.then(
      () => 'settled',
      () => 'settled',
    ),
    new Promise((resolve) => setTimeout(() => resolve(marker), ms)),
  ]);
  return outcome === marker;
}

test(
  'JWKS: a token signed by a key of the set, named by its kid, is accepted with the key set alone',
  LIMIT,
  async (t) => {
    const jwks = await startJwksServer(t, [A.jwk]);
    const server = await jwksWorker(t, jwks);
    assert.equal(server.config.jwtPublicKey, '', 'no PEM key');
    await assertStreams(await server.connect({ token: A.sign() }));
    assert.equal(jwks.requests, 1, 'the key set was fetched once, at start');
  },
);

test(
  'JWKS rotation: a key added to the set is accepted without a restart or SIGHUP; the removed key is refused',
  LIMIT,
  async (t) => {
    const jwks = await startJwksServer(t, [A.jwk]);
    const server = await jwksWorker(t, jwks);
    await assertStreams(await server.connect({ token: A.sign() }), 'call-old-key');
    jwks.serve([B.jwk]); // the provider rotates: B added, A removed
    await afterCooldown();
    await assertStreams(await server.connect({ token: B.sign() }), 'call-new-key');
    assert.equal(jwks.requests, 2, 'the unknown kid fetched the set once');
    await afterCooldown();
    await refusedUpgrade(server.connect({ token: A.sign() }), 401, 'invalid_token');
    assert.ok(
      server.logs.some((l) => l.code === 'invalid_token' && /key "key-a" is not in the key set/.test(String(l.msg))),
      'the refusal names the kid',
    );
  },
);

test(
  'JWKS: an unknown kid is refused 401 after one fetch, and within the cooldown without another',
  LIMIT,
  async (t) => {
    const jwks = await startJwksServer(t, [A.jwk]);
    const server = await jwksWorker(t, jwks, { JWT_JWKS_COOLDOWN_MS: '300' });
    const stranger = kidKeyPair('key-unknown', 'ec');
    await afterCooldown(350);
    const first = await refusedUpgrade(server.connect({ token: stranger.sign() }), 401, 'invalid_token');
    assert.match(String(first.body.message), /key "key-unknown" is not in the key set \(fetched just now\)/);
    assert.equal(jwks.requests, 2, 'one fetch for the unknown kid');
    const second = await refusedUpgrade(
      server.connect({ token: kidKeyPair('key-other').sign() }),
      401,
      'invalid_token',
    );
    assert.match(String(second.body.message), /fetched again at most every 300 ms/);
    assert.equal(jwks.requests, 2, 'no fetch within the cooldown');
    const line = server.logs.find((l) => l.code === 'invalid_token');
    assert.equal(line?.msg, 'upgrade refused: key "key-unknown" is not in the key set (fetched just now)');
    assert.equal(String(first.headers['www-authenticate']), 'Bearer error="invalid_token"');
  },
);

test('JWKS endpoint down: the cached keys still verify; an unknown kid gets 503 jwks_unavailable', LIMIT, async (t) => {
  const jwks = await startJwksServer(t, [A.jwk, B.jwk]);
  const server = await jwksWorker(t, jwks);
  jwks.failWith(503);
  await afterCooldown();
  const unavailable = await refusedUpgrade(
    server.connect({ token: kidKeyPair('key-new').sign() }),
    503,
    'jwks_unavailable',
  );
  assert.equal(unavailable.headers['retry-after'], '5');
  assert.match(String(unavailable.body.message), /the key set is unavailable/);
  const refusal = server.logs.find((l) => l.code === 'jwks_unavailable');
  assert.match(String(refusal?.detail), /could not be fetched \(HTTP 503 from the key set URL\)/, 'the why is logged');
  await assertStreams(await server.connect({ token: A.sign() }), 'call-cached-a');
  await assertStreams(await server.connect({ token: B.sign() }), 'call-cached-b');
  assert.deepEqual(Object.fromEntries(server.server.stats.jwks.fetches), { ok: 1, http_error: 1 });
  assert.ok(
    server.logs.some((l) => l.code === 'jwks_fetch_failed' && l.level === 'warn'),
    'the failed fetch is logged as a warning with its code',
  );
});

test(
  'JWKS: a key set with an HMAC key and an alg none key serves its signing key and ignores those two',
  LIMIT,
  async (t) => {
    const secret = 'shared-secret';
    const hmac = { kty: 'oct', kid: 'hmac-key', alg: 'HS256', k: Buffer.from(secret).toString('base64url') };
    const none = { ...B.jwk, kid: 'none-key', alg: 'none' };
    const jwks = await startJwksServer(t, [hmac, none, A.jwk]);
    const server = await jwksWorker(t, jwks, { JWT_JWKS_COOLDOWN_MS: '60000', JWT_JWKS_REFRESH_MS: '300000' });
    await assertStreams(await server.connect({ token: A.sign() }));
    assert.equal(server.keySource?.size, 1, 'only the signing key is held');
    assert.deepEqual(Object.fromEntries(server.server.stats.jwks.keysIgnored), { hmac_or_none: 2 });
    // An HS256 token signed with the set's HMAC secret, naming it: refused before any key is looked at.
    const [header, payload] = hmacTokenWithPublicKey(secret).split('.');
    const headerJson = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>;
    const kidHeader = Buffer.from(JSON.stringify({ ...headerJson, kid: 'hmac-key' })).toString('base64url');
    const signature = createHmac('sha256', secret).update(`${kidHeader}.${payload}`).digest('base64url');
    await refusedUpgrade(server.connect({ token: `${kidHeader}.${payload}.${signature}` }), 401, 'invalid_token');
    // An RS256 token naming the none key (with B's private key): that kid is not in the set.
    await refusedUpgrade(server.connect({ token: B.sign({}, { kid: 'none-key' }) }), 401, 'invalid_token');
    assert.ok(server.logs.some((l) => l.level === 'warn' && /2 keys of the key set ignored/.test(String(l.msg))));
  },
);

test(
  'a slow JWKS endpoint holds no upgrade that does not need it: PEM and cached-kid tokens go through',
  LIMIT,
  async (t) => {
    const jwks = await startJwksServer(t, [A.jwk]);
    const server = await jwksWorker(t, jwks, {}, true);
    jwks.hold();
    await afterCooldown();
    const waiting = server.connect({ token: B.sign() }); // B is not cached: its upgrade waits for the fetch
    await jwks.whenRequests(2);
    await assertStreams(await server.connect({ token: server.token() }), 'call-pem');
    await assertStreams(await server.connect({ token: A.sign() }), 'call-cached-kid');
    assert.ok(await stillPending(waiting, 20), 'the upgrade that needs the fetch still waits');
    assert.equal(server.server.stats.jwks.waiting, 1);
    jwks.serve([A.jwk, B.jwk]);
    jwks.release();
    await assertStreams(await waiting, 'call-waited');
    assert.equal(server.server.stats.jwks.waiting, 0);
  },
);

test(
  'an upgrade that waited for the key set still meets the connection limits when its key arrives',
  LIMIT,
  async (t) => {
    const jwks = await startJwksServer(t, [A.jwk]);
    const server = await jwksWorker(t, jwks, { MAX_CONNECTIONS_PER_WORKER: '1' }, true);
    jwks.hold();
    await afterCooldown();
    const waiting = server.connect({ token: B.sign() });
    await jwks.whenRequests(2);
    const holder = await server.connect({ token: server.token() }); // takes the one slot meanwhile
    jwks.serve([A.jwk, B.jwk]);
    jwks.release();
    await refusedUpgrade(waiting, 429, 'connection_limit');
    await assertStreams(holder, 'call-holder');
  },
);

test(
  'an upgrade that waited for the key set is refused 503 when the worker began to drain meanwhile',
  LIMIT,
  async (t) => {
    const jwks = await startJwksServer(t, [A.jwk]);
    const server = await jwksWorker(t, jwks);
    jwks.hold();
    await afterCooldown();
    const waiting = server.connect({ token: B.sign() });
    await jwks.whenRequests(2);
    const draining = server.server.close();
    jwks.serve([A.jwk, B.jwk]);
    jwks.release();
    const answer = await refusedUpgrade(waiting, 503, 'not_ready');
    assert.equal(answer.body.message, 'the service is draining');
    await draining;
  },
);

test(
  'a client that leaves while its upgrade waits for the key set has its socket closed at once, and frees its slot',
  LIMIT,
  async (t) => {
    const jwks = await startJwksServer(t, [A.jwk]);
    const server = await jwksWorker(t, jwks, { MAX_CONNECTIONS_PER_WORKER: '1' });
    jwks.hold();
    await afterCooldown();
    const socket = net.connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'GET /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        `Authorization: Bearer ${B.sign()}\r\n\r\n`,
    );
    await jwks.whenRequests(2);
    const closed = once(socket, 'close');
    socket.end(); // the client gives up: FIN
    assert.equal(await stillPending(closed, 2000), false, 'the server closed the socket while the fetch still hangs');
    jwks.serve([A.jwk, B.jwk]);
    jwks.release();
    await pollUntil(
      async () => (server.server.stats.connections.get('client_gone') === 1 ? true : undefined),
      'the abandoned upgrade to be counted',
      5000,
    );
    await assertStreams(await server.connect({ token: A.sign() }), 'call-after'); // the one slot is free
  },
);

test(
  'health: /health turns degraded once the key set is older than JWT_JWKS_CACHE_MAX_AGE_MS, and back',
  LIMIT,
  async (t) => {
    const jwks = await startJwksServer(t, [A.jwk]);
    const server = await jwksWorker(t, jwks, { JWT_JWKS_REFRESH_MS: '200', JWT_JWKS_CACHE_MAX_AGE_MS: '1000' });
    const health = async (): Promise<Record<string, unknown>> => {
      const answer = await httpGet(`http://127.0.0.1:${server.port}/health`);
      assert.equal(answer.status, 200, 'degraded or healthy: never 503 for the key set');
      return JSON.parse(answer.body) as Record<string, unknown>;
    };
    assert.equal((await health()).status, 'healthy');
    jwks.failWith(503);
    const degraded = await pollUntil(
      async () => {
        const body = await health();
        return body.status === 'degraded' ? body : undefined;
      },
      'health to turn degraded',
      5000,
    );
    assert.deepEqual(
      Object.keys(degraded).sort(),
      ['pubsub', 'service', 'status', 'timestamp'],
      'the body keeps its shape',
    );
    assert.ok((server.keySource?.ageMs() ?? 0) > 1000);
    await assertStreams(await server.connect({ token: A.sign() }), 'call-while-stale'); // the cached key still serves
    jwks.serve([A.jwk]);
    await pollUntil(async () => ((await health()).status === 'healthy' ? true : undefined), 'health to recover', 5000);
  },
);

test('metrics: key-set fetches by result, keys held, key-set age and upgrades waiting', LIMIT, async (t) => {
  const jwks = await startJwksServer(t, [A.jwk, B.jwk]);
  const server = await jwksWorker(t, jwks);
  jwks.failWith(500);
  await afterCooldown();
  await refusedUpgrade(server.connect({ token: kidKeyPair('key-new').sign() }), 503, 'jwks_unavailable');
  const registry = createWorkerMetrics({ stats: server.server.stats, backlogBytes: () => 0, keySet: server.keySource });
  const text = await registry.metrics();
  assert.match(text, /^ingest_jwks_fetches_total\{result="ok"\} 1$/m);
  assert.match(text, /^ingest_jwks_fetches_total\{result="http_error"\} 1$/m);
  assert.match(text, /^ingest_jwks_unknown_kids_total\{outcome="unavailable"\} 1$/m);
  assert.match(text, /^ingest_jwks_keys 2$/m);
  assert.match(text, /^ingest_jwks_waiting_upgrades 0$/m);
  const age = Number(/^ingest_jwks_key_set_age_seconds ([\d.]+)$/m.exec(text)?.[1]);
  assert.ok(age > 0.1 && age < 30, `the age is the time since the last good fetch (${age} s)`);
});
