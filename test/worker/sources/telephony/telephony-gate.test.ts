/**
 * Which upgrades become telephony streams, which are refused, and which tenant
 * a stream gets (protocol.md 4.1), on a real server: Basic credentials, source
 * ranges, X-Forwarded-For only from trusted proxies, the unauthenticated
 * opt-in, Bearer still meaning native on /v1/ingest, and the tenant mapping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngestClient, UpgradeRefused } from '../../../../src/client/ingest-client';
import { startTestServer, type TestServer } from '../../../support/ingest-server';
import { assertCallRecords, whenCallEnded } from '../../../support/telephony-check';
import type WebSocket from 'ws';
import { tenantLeaseKey } from '../../../../src/worker/admission/redis-lease-store';
import { pollUntil } from '../../../support/http-get';
import {
  buildCall,
  connectProvider,
  simulateCall,
  UpgradeRefusedError,
  type SimulatorOptions,
} from '../../../support/telephony-simulator';
import { memoryPublisher as memory } from '../../../support/in-memory-records';
import { redisScratch, REDIS_URL } from '../../../support/redis';

function url(server: TestServer, path: string, userinfo = ''): string {
  return `ws://${userinfo ? `${userinfo}@` : ''}127.0.0.1:${server.port}${path}`;
}

async function refusedWith(promise: Promise<unknown>): Promise<UpgradeRefusedError> {
  const err = await promise.then(
    () => assert.fail('expected the upgrade to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UpgradeRefusedError, String(err));
  return err;
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; error: string }> {
  const err = await promise.then(
    () => assert.fail('expected the upgrade to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UpgradeRefusedError, String(err));
  return { status: err.status, error: (JSON.parse(err.body) as { error: string }).error };
}

/** Plays a short call and checks it landed under `tenant`. */
async function callLandsAs(
  server: TestServer,
  target: string,
  tenant: string,
  options: SimulatorOptions & { headers?: Record<string, string> } = {},
): Promise<void> {
  const { call, result } = await simulateCall(target, { chunks: 5, ...options });
  assert.equal(result.close.code, 1000);
  assertCallRecords(await whenCallEnded(memory(server), call), call, { tenant, reason: 'stop:callended' });
}

const BASIC_ENV = {
  SUPPORT_EXOTEL: 'true',
  EXOTEL_BASIC_AUTH: 'exo:s3cret=tenant-b,ops:pw2=tenant-c',
  EXOTEL_ACCOUNT_TENANTS: 'exotel-account=tenant-acc',
};

test(
  "4.1 Basic credentials: right ones stream under their user's tenant " + '(over the account map), wrong ones get 401',
  async (t) => {
    const server = await startTestServer(t, BASIC_ENV);
    await callLandsAs(server, url(server, '/v1/exotel', 'exo:s3cret'), 'tenant-b');
    await callLandsAs(server, url(server, '/v1/exotel', 'ops:pw2'), 'tenant-c');
    assert.deepEqual(await refusal(connectProvider(url(server, '/v1/exotel', 'exo:wrong'))), {
      status: 401,
      error: 'exotel_unauthorized',
    });
    assert.deepEqual(await refusal(connectProvider(url(server, '/v1/exotel', 'nobody:s3cret'))), {
      status: 401,
      error: 'exotel_unauthorized',
    });
    assert.deepEqual(
      await refusal(connectProvider(url(server, '/v1/exotel'))),
      { status: 401, error: 'exotel_unauthorized' },
      'no credentials, no range',
    );
    const challenged = await refusedWith(connectProvider(url(server, '/v1/exotel', 'exo:wrong')));
    assert.match(
      challenged.challenge ?? '',
      /^Basic realm="ingest"/,
      'the 401 asks for Basic credentials, not a bearer token',
    );
    assert.equal(server.server.stats.authFailures.get('exotel_unauthorized'), 4);
    assert.ok(!server.logText().includes('s3cret'), 'credentials never reach the logs');
  },
);

test('4.1 wrong credentials are refused even from an allowed source address', async (t) => {
  const server = await startTestServer(t, { ...BASIC_ENV, EXOTEL_ALLOWED_CIDRS: '127.0.0.0/8' });
  assert.equal((await refusal(connectProvider(url(server, '/v1/exotel', 'exo:wrong')))).status, 401);
  await callLandsAs(server, url(server, '/v1/exotel'), 'tenant-acc');
});

test('4.1 a source address inside EXOTEL_ALLOWED_CIDRS streams without credentials; outside gets 401', async (t) => {
  const inside = await startTestServer(t, {
    SUPPORT_EXOTEL: 'true',
    EXOTEL_ALLOWED_CIDRS: '10.0.0.0/8,127.0.0.0/8',
    EXOTEL_DEFAULT_TENANT: 'tenant-d',
  });
  await callLandsAs(inside, url(inside, '/v1/exotel'), 'tenant-d');
  const outside = await startTestServer(t, {
    SUPPORT_EXOTEL: 'true',
    EXOTEL_ALLOWED_CIDRS: '10.0.0.0/8,::1/128',
    EXOTEL_DEFAULT_TENANT: 'tenant-d',
  });
  assert.deepEqual(await refusal(connectProvider(url(outside, '/v1/exotel'))), {
    status: 401,
    error: 'exotel_unauthorized',
  });
});

test('4.1 X-Forwarded-For is believed only when the peer is a trusted proxy', async (t) => {
  const env = { SUPPORT_EXOTEL: 'true', EXOTEL_ALLOWED_CIDRS: '203.0.113.0/24', EXOTEL_DEFAULT_TENANT: 'tenant-d' };
  const behindProxy = await startTestServer(t, { ...env, TRUSTED_PROXIES: '127.0.0.1' });
  await callLandsAs(behindProxy, url(behindProxy, '/v1/exotel'), 'tenant-d', {
    headers: { 'X-Forwarded-For': '203.0.113.9' },
  });
  const outsideRange = connectProvider(url(behindProxy, '/v1/exotel'), { 'X-Forwarded-For': '198.51.100.1' });
  assert.equal((await refusal(outsideRange)).status, 401);
  const direct = await startTestServer(t, env);
  const spoofed = connectProvider(url(direct, '/v1/exotel'), { 'X-Forwarded-For': '203.0.113.9' });
  assert.equal((await refusal(spoofed)).status, 401, 'a client cannot claim an allowed address itself');
});

test('4.1 X-Forwarded-For: a client cannot claim an allowed address left of what its proxy appended', async (t) => {
  const env = { SUPPORT_EXOTEL: 'true', EXOTEL_ALLOWED_CIDRS: '203.0.113.0/24', EXOTEL_DEFAULT_TENANT: 'tenant-d' };
  const server = await startTestServer(t, { ...env, TRUSTED_PROXIES: '127.0.0.1' });
  // The client wrote 203.0.113.9 itself; its proxy appended the address it saw, in ip:port or a hidden form.
  for (const forwarded of [
    '203.0.113.9, 198.51.100.1:41234',
    '203.0.113.9, [2001:db8::1]:41234',
    '203.0.113.9, unknown',
  ]) {
    const spoofed = connectProvider(url(server, '/v1/exotel'), { 'X-Forwarded-For': forwarded });
    assert.equal((await refusal(spoofed)).status, 401, forwarded);
  }
  await callLandsAs(server, url(server, '/v1/exotel'), 'tenant-d', {
    headers: { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9:5060' },
  });
});

test('4.1 without credentials or ranges: refused with 401 unless EXOTEL_ALLOW_UNAUTHENTICATED=true', async (t) => {
  const off = await startTestServer(t, {
    SUPPORT_EXOTEL: 'true',
    EXOTEL_ALLOWED_CIDRS: '192.0.2.0/24',
    EXOTEL_DEFAULT_TENANT: 'tenant-d',
  });
  assert.deepEqual(await refusal(connectProvider(url(off, '/v1/ingest'))), {
    status: 401,
    error: 'exotel_unauthorized',
  });
  const on = await startTestServer(t, {
    SUPPORT_EXOTEL: 'true',
    EXOTEL_ALLOW_UNAUTHENTICATED: 'true',
    EXOTEL_DEFAULT_TENANT: 'tenant-d',
  });
  await callLandsAs(on, url(on, '/v1/ingest'), 'tenant-d');
  await callLandsAs(on, url(on, '/v1/exotel'), 'tenant-d');
});

test(
  '4.1 on /v1/ingest, Basic or no Authorization is Exotel while a Bearer ' +
    'token (header, access_token or subprotocol) is native',
  async (t) => {
    const server = await startTestServer(t, { ...BASIC_ENV, EXOTEL_ALLOWED_CIDRS: '127.0.0.0/8' });
    await callLandsAs(server, url(server, '/v1/ingest', 'exo:s3cret'), 'tenant-b');
    await callLandsAs(server, url(server, '/v1/ingest'), 'tenant-acc');
    for (const placement of ['header', 'query', 'subprotocol'] as const) {
      const client = await server.connect({ placement });
      const started = await client.start({ interactionId: `native-${placement}` });
      assert.equal(started.type, 'started', `${placement}: the native protocol answers`);
      const { close } = await client.stop();
      assert.equal(close.code, 1000);
    }
    const badBearer = IngestClient.connect(server.url, { token: 'not-a-jwt' });
    await assert.rejects(
      badBearer,
      (err: unknown) => err instanceof UpgradeRefused && err.status === 401 && err.body.error === 'invalid_token',
      'a bad Bearer token is never rescued by the Exotel rules',
    );
  },
);

test(
  '4.1 with SUPPORT_EXOTEL off, /v1/exotel is 404 and Basic on ' +
    '/v1/ingest is a native upgrade without a token (401)',
  async (t) => {
    const server = await startTestServer(t);
    assert.deepEqual(await refusal(connectProvider(url(server, '/v1/exotel'))), { status: 404, error: 'not_found' });
    assert.deepEqual(await refusal(connectProvider(url(server, '/v1/ingest', 'exo:s3cret'))), {
      status: 401,
      error: 'missing_token',
    });
    assert.deepEqual(
      await refusal(connectProvider(url(server, '/v1/twilio'))),
      { status: 404, error: 'not_found' },
      'Twilio is off without its settings',
    );
  },
);

test(
  "4.1 tenant: the Basic user's, else EXOTEL_ACCOUNT_TENANTS[account_sid], " +
    'else EXOTEL_DEFAULT_TENANT, else close 1008',
  async (t) => {
    const env = {
      SUPPORT_EXOTEL: 'true',
      EXOTEL_BASIC_AUTH: 'exo:s3cret=tenant-b',
      EXOTEL_ALLOWED_CIDRS: '127.0.0.0/8',
      EXOTEL_ACCOUNT_TENANTS: 'acct-1=tenant-acc,acct-2=tenant-acc2',
    };
    const server = await startTestServer(t, env);
    await callLandsAs(server, url(server, '/v1/exotel', 'exo:s3cret'), 'tenant-b', { accountSid: 'acct-1' });
    await callLandsAs(server, url(server, '/v1/exotel'), 'tenant-acc', { accountSid: 'acct-1' });
    await callLandsAs(server, url(server, '/v1/exotel'), 'tenant-acc2', { accountSid: 'acct-2', casing: 'camel' });
    const { call, result } = await simulateCall(url(server, '/v1/exotel'), { chunks: 3, accountSid: 'acct-unknown' });
    assert.equal(result.close.code, 1008, 'unmapped: closed with 1008');
    assert.match(result.close.reason, /no tenant/);
    assert.ok(server.logs.some((l) => l.code === 'tenant_unmapped'));
    assert.ok(
      !memory(server)
        .records()
        .some((r) => r.interaction_id === call.callSid),
      'nothing published for it',
    );

    const withDefault = await startTestServer(t, { ...env, EXOTEL_DEFAULT_TENANT: 'tenant-def' });
    await callLandsAs(withDefault, url(withDefault, '/v1/exotel'), 'tenant-def', { accountSid: 'acct-unknown' });
  },
);

test(
  'MAX_STREAMS_PER_TENANT: an Exotel Basic user takes its lease at the upgrade (429 beyond it); a tenant from ' +
    'start (account map, default tenant) takes it at start, refused with 1013 tenant_stream_limit; leases go back',
  async (t) => {
    const { admin, prefix } = redisScratch(t, 'exotel-leases');
    const leasePrefix = `${prefix}:leases:`;
    const server = await startTestServer(t, {
      ...BASIC_ENV,
      EXOTEL_ALLOWED_CIDRS: '127.0.0.0/8',
      EXOTEL_DEFAULT_TENANT: 'tenant-b',
      MAX_STREAMS_PER_TENANT: '1',
      LIMITS_REDIS_URL: REDIS_URL,
      TENANT_LEASE_KEY_PREFIX: leasePrefix,
    });
    const leases = (tenant: string): Promise<number> => admin.zcard(tenantLeaseKey(leasePrefix, tenant));
    const exotel = url(server, '/v1/exotel');
    /** A call that sends `connected` and `start`, then nothing: it holds its stream open. */
    const holdCall = async (target: string, options: SimulatorOptions = {}): Promise<WebSocket> => {
      const ws = await connectProvider(target);
      t.after(() => ws.terminate());
      for (const message of buildCall(options).script.slice(0, 2)) ws.send(JSON.stringify(message.body));
      return ws;
    };
    /** Plays a whole call that must be closed at start with 1013, nothing of it published. */
    const refusedAtStart = async (target: string, options: SimulatorOptions): Promise<void> => {
      const { call, result } = await simulateCall(target, { chunks: 5, ...options });
      assert.equal(result.close.code, 1013);
      assert.match(result.close.reason, /^tenant_stream_limit: /);
      const published = memory(server)
        .records()
        .filter((r) => r.interaction_id === call.callSid);
      assert.deepEqual(published, [], 'a stream refused at start publishes nothing');
    };

    // tenant-b: a Basic user's lease, taken at the upgrade.
    const basic = await connectProvider(url(server, '/v1/exotel', 'exo:s3cret'));
    t.after(() => basic.terminate());
    assert.deepEqual(await refusal(connectProvider(url(server, '/v1/exotel', 'exo:s3cret'))), {
      status: 429,
      error: 'tenant_stream_limit',
    });
    // The default tenant is tenant-b too: the same limit refuses it at start.
    await refusedAtStart(exotel, { accountSid: 'acct-unmapped' });
    // tenant-acc from the account map: the first call holds the lease, the second is refused at start.
    const held = await holdCall(exotel);
    await pollUntil(async () => ((await leases('tenant-acc')) === 1 ? true : undefined), 'the lease taken at start');
    await refusedAtStart(exotel, {});
    assert.equal(server.server.stats.connections.get('tenant_stream_limit'), 3, 'one 429 and two refusals at start');
    const logged = server.logs.filter((l) => l.code === 'tenant_stream_limit' && l.tenant_id !== undefined);
    assert.deepEqual(
      logged.map((l) => l.tenant_id),
      ['tenant-b', 'tenant-acc'],
      'each refusal at start is logged with its tenant',
    );
    assert.ok(logged.every((l) => typeof l.interaction_id === 'string'));

    // Once the held streams close, their leases are back and both paths stream.
    basic.close(1000);
    held.close(1000);
    await pollUntil(
      async () => ((await leases('tenant-acc')) + (await leases('tenant-b')) === 0 ? true : undefined),
      'the leases given back at close',
    );
    await callLandsAs(server, exotel, 'tenant-acc');
    await callLandsAs(server, exotel, 'tenant-b', { accountSid: 'acct-unmapped' });
    await callLandsAs(server, url(server, '/v1/exotel', 'exo:s3cret'), 'tenant-b');
    assert.equal((await leases('tenant-acc')) + (await leases('tenant-b')), 0, 'no lease outlives its call');
  },
);
