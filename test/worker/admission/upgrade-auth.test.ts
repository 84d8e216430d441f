/**
 * Authentication and admission of native streams on a real server
 * (protocol.md 1.1): every refusal happens on the HTTP upgrade request, with
 * its status and a small JSON body, is logged with its code, and the token
 * never reaches the logs, wherever the client put it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { test } from 'node:test';
import type { IngestRecord, StreamEndedRecord } from '../../../src/shared/publishing/records';
import { IngestClient, UpgradeRefused } from '../../../src/client/ingest-client';
import { memoryPublisher, waitForRecord } from '../../support/in-memory-records';
import { startTestServer, type TestServer } from '../../support/ingest-server';
import { refusedUpgrade } from '../../support/refused-upgrade';
import {
  expiredToken,
  hmacTokenWithPublicKey,
  makeKeyPair,
  noExpToken,
  noTenantToken,
  notYetValidToken,
  signToken,
  unsignedToken,
} from '../../support/tokens';

/** Fails the test if any part of the token that identifies it shows up in the server's logs. */
function assertTokenNotLogged(server: TestServer, token: string): void {
  const text = server.logText();
  assert.ok(text.length > 0, 'the server logged something');
  assert.equal(text.includes(token), false, 'the token appears in the logs');
  const [, payload, signature] = token.split('.');
  if (payload) assert.equal(text.includes(payload), false, "the token's claims appear in the logs");
  if (signature) assert.equal(text.includes(signature), false, "the token's signature appears in the logs");
}

/**
 * Asserts the upgrade was refused with `status` and error `code`, a JSON
 * {error, message} body, WWW-Authenticate exactly on 401, a log line with the
 * code, and (when given) the token kept out of the logs.
 */
async function assertRefused(
  server: TestServer,
  attempt: Promise<IngestClient>,
  status: number,
  code: string,
  token?: string,
): Promise<UpgradeRefused> {
  const outcome = await refusedUpgrade(attempt, status, code);
  assert.deepEqual(Object.keys(outcome.body).sort(), ['error', 'message']);
  assert.ok(typeof outcome.body.message === 'string' && outcome.body.message.length > 0, 'a human message');
  assert.equal(outcome.headers['content-type'], 'application/json');
  assert.equal(outcome.headers['www-authenticate'], status === 401 ? 'Bearer error="invalid_token"' : undefined);
  const logged = server.logs.find((l) => l.code === code && l.status === status);
  assert.ok(logged, `the refusal is logged with code ${code}`);
  if (token !== undefined) assertTokenNotLogged(server, token);
  return outcome;
}

/** Opens a stream and ends it normally: the upgrade was accepted and the stream works. */
async function assertStreams(client: IngestClient, interactionId = 'call-ok'): Promise<void> {
  const started = await client.start({ interactionId });
  assert.equal(started.type, 'started');
  const { stopped, close } = await client.stop();
  assert.equal(stopped?.type, 'stopped');
  assert.equal(close.code, 1000);
}

/** Resolves once `interactionId`'s stream_ended record is published (its socket has closed by then). */
function streamEnded(server: TestServer, interactionId: string): Promise<IngestRecord> {
  return waitForRecord(
    memoryPublisher(server),
    (r): r is StreamEndedRecord => r.type === 'stream_ended' && r.interaction_id === interactionId,
  );
}

test(
  '1.1 an upgrade without a token is refused with 401, ' + 'WWW-Authenticate and a JSON {error, message} body',
  async (t) => {
    const server = await startTestServer(t);
    await assertRefused(server, IngestClient.connect(server.url), 401, 'missing_token');
  },
);

for (const [what, token] of [
  ['a token that is not a JWT', 'not-a-jwt'],
  ['a token whose parts are not base64url JSON', 'a.b.c'],
  ['an empty bearer token', ''],
] as const) {
  test(`1.1 ${what} is refused with 401 before the upgrade`, async (t) => {
    const server = await startTestServer(t);
    await assertRefused(server, server.connect({ token }), 401, 'invalid_token');
  });
}

test('1.1 a token signed by a key the server does not know is refused with 401 before the upgrade', async (t) => {
  const server = await startTestServer(t);
  const token = signToken(makeKeyPair('ec').privateKey);
  await assertRefused(server, server.connect({ token }), 401, 'invalid_token', token);
});

test('1.1 an unsigned token (alg none) is refused with 401 before the upgrade', async (t) => {
  const server = await startTestServer(t);
  const token = unsignedToken();
  await assertRefused(server, server.connect({ token }), 401, 'invalid_token', token);
});

for (const alg of ['HS256', 'HS512'] as const) {
  test(
    `1.1 a token signed with ${alg} using the public key as secret ` + 'is refused with 401 before the upgrade',
    async (t) => {
      const server = await startTestServer(t);
      const token = hmacTokenWithPublicKey(server.keys.publicKeyPem, {}, alg);
      await assertRefused(server, server.connect({ token }), 401, 'invalid_token', token);
    },
  );
}

test(
  '1.1 a token signed with an algorithm outside JWT_ALGORITHMS is ' + 'refused with 401, one inside it is accepted',
  async (t) => {
    const rsa = makeKeyPair('rsa');
    const ec = makeKeyPair('ec');
    const server = await startTestServer(t, {
      JWT_PUBLIC_KEY: rsa.publicKeyPem + ec.publicKeyPem,
      JWT_ALGORITHMS: 'ES256',
    });
    const rs256 = signToken(rsa.privateKey);
    await assertRefused(server, server.connect({ token: rs256 }), 401, 'invalid_token', rs256);
    const es256 = signToken(ec.privateKey);
    await assertStreams(await server.connect({ token: es256 }));
    assertTokenNotLogged(server, es256);
  },
);

test('1.1 a token signed by any of several configured public keys is accepted (key rotation)', async (t) => {
  const oldKey = makeKeyPair('rsa');
  const newKey = makeKeyPair('ec');
  const server = await startTestServer(t, { JWT_PUBLIC_KEY: oldKey.publicKeyPem + newKey.publicKeyPem });
  await assertStreams(await server.connect({ token: signToken(oldKey.privateKey) }), 'call-old-key');
  await assertStreams(await server.connect({ token: signToken(newKey.privateKey) }), 'call-new-key');
});

test('1.1 an expired token is refused with 401 before the upgrade', async (t) => {
  const server = await startTestServer(t);
  const token = expiredToken(server.keys.privateKey);
  const refused = await assertRefused(server, server.connect({ token }), 401, 'invalid_token', token);
  assert.match(refused.body.message ?? '', /expired/);
});

test('1.1 a token expired for less than the clock tolerance is still accepted', async (t) => {
  const server = await startTestServer(t, { JWT_CLOCK_TOLERANCE_S: '30' });
  await assertStreams(await server.connect({ token: expiredToken(server.keys.privateKey, 5) }));
});

test('1.1 a token that is not yet valid (nbf in the future) is refused with 401 before the upgrade', async (t) => {
  const server = await startTestServer(t);
  const token = notYetValidToken(server.keys.privateKey);
  const refused = await assertRefused(server, server.connect({ token }), 401, 'invalid_token', token);
  assert.match(refused.body.message ?? '', /not valid before/);
});

test('1.1 a token without exp is refused with 401 before the upgrade', async (t) => {
  const server = await startTestServer(t);
  const token = noExpToken(server.keys.privateKey);
  await assertRefused(server, server.connect({ token }), 401, 'invalid_token', token);
});

test(
  '1.1 with JWT_ISSUER and JWT_AUDIENCE set, a wrong or missing iss or ' +
    'aud is refused with 401, the right ones accepted',
  async (t) => {
    const iss = 'https://auth.example';
    const aud = 'ingest';
    const server = await startTestServer(t, { JWT_ISSUER: iss, JWT_AUDIENCE: aud });
    const key = server.keys.privateKey;
    for (const claims of [
      { iss: 'https://someone-else.example', aud },
      { aud },
      { iss, aud: 'someone-else' },
      { iss },
      { iss, aud: ['other', 'another'] },
    ]) {
      const token = signToken(key, claims);
      await assertRefused(server, server.connect({ token }), 401, 'invalid_token', token);
    }
    await assertStreams(await server.connect({ token: signToken(key, { iss, aud }) }), 'call-aud');
    await assertStreams(await server.connect({ token: signToken(key, { iss, aud: ['other', aud] }) }), 'call-aud-list');
  },
);

test('1.1 a 401 for the wrong issuer or audience does not reveal the expected ones (logged only)', async (t) => {
  const iss = 'https://auth.internal.example';
  const aud = 'ingest-prod-7';
  const server = await startTestServer(t, { JWT_ISSUER: iss, JWT_AUDIENCE: aud });
  const key = server.keys.privateKey;
  for (const [claims, expected] of [
    [{ iss: 'https://forger.example', aud }, iss],
    [{ iss, aud: 'guess' }, aud],
  ] as const) {
    const refused = await assertRefused(
      server,
      server.connect({ token: signToken(key, claims) }),
      401,
      'invalid_token',
    );
    assert.ok(!JSON.stringify(refused.body).includes(expected), `the body names no ${expected}`);
    assert.match(String(refused.body.message), /(issuer|audience) does not match/);
    const logged = server.logs.filter((l) => l.code === 'invalid_token').at(-1);
    assert.match(String(logged?.detail), new RegExp(`expected ${expected.replace(/[.]/g, '\\.')}`));
  }
});

test('1.1 a token without the tenant claim is refused with 401 before the upgrade', async (t) => {
  const server = await startTestServer(t);
  const token = noTenantToken(server.keys.privateKey);
  await assertRefused(server, server.connect({ token }), 401, 'missing_tenant', token);
});

test('1.1 the tenant claim name is configurable (JWT_TENANT_CLAIM)', async (t) => {
  const server = await startTestServer(t, { JWT_TENANT_CLAIM: 'org' });
  const withoutOrg = signToken(server.keys.privateKey);
  await assertRefused(server, server.connect({ token: withoutOrg }), 401, 'missing_tenant', withoutOrg);
  await assertStreams(await server.connect({ claims: { org: 'tenant-org' } }));
  assert.equal(memoryPublisher(server).records()[0]?.tenant_id, 'tenant-org');
});

test(
  '1.1 a valid token whose tenant is not in ALLOWED_TENANTS is ' + 'refused with 403, an allowed tenant is accepted',
  async (t) => {
    const server = await startTestServer(t, { ALLOWED_TENANTS: 'tenant-a,tenant-c' });
    const token = server.token({ tenant_id: 'tenant-b' });
    await assertRefused(server, server.connect({ token }), 403, 'tenant_not_allowed', token);
    await assertStreams(await server.connect({ claims: { tenant_id: 'tenant-c' } }));
  },
);

test('1.1 an upgrade on an unknown path is refused with 404', async (t) => {
  const server = await startTestServer(t);
  const token = server.token();
  const url = `ws://127.0.0.1:${server.port}/v1/elsewhere`;
  await assertRefused(server, IngestClient.connect(url, { token }), 404, 'not_found', token);
});

test(
  '1.1 past MAX_CONNECTIONS_PER_WORKER upgrades are refused with ' + '429, and a closed stream gives its slot back',
  async (t) => {
    const server = await startTestServer(t, { MAX_CONNECTIONS_PER_WORKER: '1' });
    const first = await server.connect();
    await first.start({ interactionId: 'call-first' });
    await assertRefused(server, server.connect({ claims: { tenant_id: 'tenant-b' } }), 429, 'connection_limit');
    first.close();
    await streamEnded(server, 'call-first'); // published once the server saw the socket close
    await assertStreams(await server.connect(), 'call-after');
  },
);

test(
  '1.1 an admitted upgrade that fails the WebSocket handshake itself (bad ' +
    'Sec-WebSocket-Version) gives its connection slot back',
  async (t) => {
    const server = await startTestServer(t, { MAX_CONNECTIONS_PER_WORKER: '1' });
    const answer = await new Promise<{ status: number; closed: Promise<unknown> }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: server.port,
        path: '/v1/ingest',
        agent: false,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '7',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          Authorization: `Bearer ${server.token()}`,
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, closed: once(res.socket, 'close') });
      });
      req.on('upgrade', () => reject(new Error('the handshake was accepted')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 400);
    await answer.closed; // the server has dropped the socket
    await assertStreams(await server.connect(), 'call-after-bad-handshake');
  },
);

test(
  '1.1 past MAX_CONNECTIONS_PER_TENANT upgrades of that tenant are ' + 'refused with 429, other tenants are accepted',
  async (t) => {
    const server = await startTestServer(t, { MAX_CONNECTIONS_PER_TENANT: '1' });
    const first = await server.connect();
    await first.start({ interactionId: 'call-first' });
    await assertRefused(server, server.connect(), 429, 'connection_limit');
    await assertStreams(await server.connect({ claims: { tenant_id: 'tenant-b' } }), 'call-other-tenant');
    await first.stop();
  },
);

test(
  '1.1 past MAX_CONNECTIONS_PER_IP upgrades from that address ' + 'are refused with 429, whatever the tenant',
  async (t) => {
    const server = await startTestServer(t, { MAX_CONNECTIONS_PER_IP: '1' });
    const first = await server.connect();
    await first.start({ interactionId: 'call-first' });
    await assertRefused(server, server.connect({ claims: { tenant_id: 'tenant-b' } }), 429, 'connection_limit');
    await first.stop();
  },
);

test(
  '1.1 the per-address limit counts the direct peer: an ' +
    'X-Forwarded-For from an untrusted peer does not get around it',
  async (t) => {
    const server = await startTestServer(t, { MAX_CONNECTIONS_PER_IP: '1' });
    const first = await server.connect();
    await first.start({ interactionId: 'call-first' });
    const spoofed = server.connect({
      claims: { tenant_id: 'tenant-b' },
      headers: { 'X-Forwarded-For': '203.0.113.9' },
    });
    await assertRefused(server, spoofed, 429, 'connection_limit');
    await first.stop();
  },
);

test('1.1 behind a trusted proxy the per-address limit counts the ip:port hop it appended', async (t) => {
  const server = await startTestServer(t, { MAX_CONNECTIONS_PER_IP: '1', TRUSTED_PROXIES: '127.0.0.1' });
  const first = await server.connect({ headers: { 'X-Forwarded-For': '203.0.113.1, 198.51.100.1:40000' } });
  await first.start({ interactionId: 'call-first' });
  const spoofed = server.connect({
    claims: { tenant_id: 'tenant-b' },
    headers: { 'X-Forwarded-For': '203.0.113.2, 198.51.100.1:40001' },
  });
  await assertRefused(server, spoofed, 429, 'connection_limit');
  const other = await server.connect({ headers: { 'X-Forwarded-For': '198.51.100.2:40002' } });
  await other.start({ interactionId: 'call-other' });
  await Promise.all([first.stop(), other.stop()]);
});

test('1.1 while the server drains, upgrades are refused with 503 and Retry-After', async (t) => {
  const server = await startTestServer(t);
  // A stream whose client stops reading: it cannot complete the close handshake, so the drain lasts until it resumes.
  const holder = await server.connect();
  await holder.start({ interactionId: 'call-holder' });
  holder.ws.pause();
  const draining = server.server.close();
  try {
    assert.equal(server.server.serverState, 'draining');
    const token = server.token();
    const refused = await assertRefused(server, server.connect({ token }), 503, 'not_ready', token);
    assert.match(String(refused.headers['retry-after']), /^\d+$/);
  } finally {
    holder.ws.resume();
  }
  assert.equal((await holder.closed).code, 1001);
  await draining;
});

test('1.1 a token in the access_token query parameter is accepted and kept out of the logs', async (t) => {
  const server = await startTestServer(t);
  const token = server.token();
  await assertStreams(await server.connect({ token, placement: 'query' }));
  assertTokenNotLogged(server, token);
});

test('1.1 a refused token in the access_token query parameter is redacted from the logged URL', async (t) => {
  const server = await startTestServer(t);
  const token = expiredToken(server.keys.privateKey);
  await assertRefused(server, server.connect({ token, placement: 'query' }), 401, 'invalid_token', token);
  const logged = server.logs.find((l) => l.code === 'invalid_token');
  assert.equal(logged?.url, '/v1/ingest?access_token=[REDACTED]');
});

test('1.1 a refused token on an unknown path is redacted from the logged URL too', async (t) => {
  const server = await startTestServer(t);
  const token = server.token();
  const url = `ws://127.0.0.1:${server.port}/v2/ingest`;
  await assertRefused(server, IngestClient.connect(url, { token, placement: 'query' }), 404, 'not_found', token);
});

test(
  '1.1 a token offered as the bearer.<jwt> subprotocol next to ' +
    'ingest.v1 is accepted, and the server selects ingest.v1',
  async (t) => {
    const server = await startTestServer(t);
    const token = server.token();
    const client = await server.connect({ token, placement: 'subprotocol' });
    assert.equal(client.ws.protocol, 'ingest.v1');
    await assertStreams(client);
    assertTokenNotLogged(server, token);
  },
);

test('1.1 a refused token offered as a subprotocol is kept out of the logs', async (t) => {
  const server = await startTestServer(t);
  const token = signToken(makeKeyPair('ec').privateKey);
  await assertRefused(server, server.connect({ token, placement: 'subprotocol' }), 401, 'invalid_token', token);
});

test('1.1 a token in the Authorization header is kept out of the logs, accepted or refused', async (t) => {
  const server = await startTestServer(t);
  const accepted = server.token();
  await assertStreams(await server.connect({ token: accepted }));
  const refused = expiredToken(server.keys.privateKey);
  await assertRefused(server, server.connect({ token: refused }), 401, 'invalid_token', refused);
  assertTokenNotLogged(server, accepted);
});
