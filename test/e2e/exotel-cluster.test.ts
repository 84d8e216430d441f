/**
 * Exotel end to end, run as a user runs the service (node dist/src/primary/main.js
 * with WORKERS=2 and PUBSUB_ADAPTER=redis_streams): 200 concurrent simulated
 * calls land in Redis byte-exact, and the start-up refuses an Exotel source
 * that cannot recognise Exotel unless the opt-in says so, loudly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { readStream } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';
import { entryFields, type FieldMap } from '../support/field-map';
import { assertCallRecords } from '../support/telephony-check';
import { buildCall, playCall, type SimulatedCall, type SimulatorOptions } from '../support/telephony-simulator';

const CALLS = 200;
const USERS = [
  { user: 'exotel-a', password: 'pw-a:1', tenant: 'tenant-a' },
  { user: 'exotel-b', password: 'pw=b', tenant: 'tenant-b' },
];

/** Every combination the providers produce, spread over the calls. */
function variant(i: number): SimulatorOptions {
  return {
    casing: i % 2 === 0 ? 'snake' : 'camel',
    stringNumbers: i % 3 !== 0,
    binaryJson: i % 5 === 0,
    sampleRate: [8000, 16000, 24000][i % 3],
    chunks: 40 + (i % 11),
    dtmf: [{ afterChunk: 5 + (i % 7), digit: String(i % 10), durationMs: 80 }],
    marks: [{ afterChunk: 30, name: `mark-${i}` }],
    customParameters: { call_index: String(i) },
    seed: i + 1,
  };
}

test(
  '4.1 two hundred concurrent simulated Exotel calls through a 2-worker ' +
    'cluster land in Redis: every byte, in order, dtmf and mark in place',
  async (t) => {
    // Exotel clients authenticate with Basic auth: no JWT key.
    const { cluster, admin, prefix, port } = await startRedisCluster(
      t,
      'exotel-e2e',
      {
        SUPPORT_EXOTEL: 'true',
        EXOTEL_BASIC_AUTH: USERS.map((u) => `${u.user}:${u.password}=${u.tenant}`).join(','),
        BUFFER_DURATION_MS: '200',
      },
      { streamKey: (p) => `${p}:{tenant_id}`, jwt: false },
    );

    const calls: Array<{ call: SimulatedCall; tenant: string; rate: number }> = [];
    await Promise.all(
      Array.from({ length: CALLS }, async (_, i) => {
        const user = USERS[i % USERS.length];
        const options = variant(i);
        const call = buildCall(options);
        calls.push({ call, tenant: user.tenant, rate: options.sampleRate! });
        const path = i % 4 === 0 ? '/v1/ingest' : '/v1/exotel';
        const userinfo = `${encodeURIComponent(user.user)}:${encodeURIComponent(user.password)}`;
        const { close, received } = await playCall(`ws://${userinfo}@127.0.0.1:${port}${path}`, call);
        assert.equal(close.code, 1000, `${call.callSid}: closed ${close.code} ${close.reason}`);
        assert.equal(received, 0, 'nothing is sent to Exotel');
      }),
    );

    const records = new Map<string, FieldMap[]>();
    for (const { tenant } of USERS)
      records.set(tenant, (await readStream(admin, `${prefix}:${tenant}`)).map(entryFields));
    let bytes = 0;
    for (const { call, tenant, rate } of calls) {
      assertCallRecords(records.get(tenant)!, call, { tenant, reason: 'stop:callended', sampleRate: rate });
      bytes += call.tracks.get('')!.chunks.reduce((n, c) => n + c.length, 0);
    }
    const published = [...records.values()].flat().filter((r) => r.get('type')?.toString() === 'audio');
    assert.equal(
      published.reduce((n, r) => n + r.get('payload')!.length, 0),
      bytes,
      'every byte arrived exactly once',
    );
    cluster.child.kill('SIGTERM');
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
  },
);

test(
  'SUPPORT_EXOTEL=true with neither credentials nor ranges: the ' +
    'service refuses to start (exit 78) and says how to fix it',
  async (t) => {
    const cluster = await startCluster(t, {
      PORT: String(await freePort()),
      WORKERS: '1',
      SUPPORT_EXOTEL: 'true',
      EXOTEL_DEFAULT_TENANT: 'tenant-a',
    });
    const { code } = await cluster.exited;
    assert.equal(code, 78);
    const stderr = cluster.stderr.join('');
    assert.match(stderr, /EXOTEL_BASIC_AUTH/);
    assert.match(stderr, /EXOTEL_ALLOWED_CIDRS/);
    assert.match(stderr, /EXOTEL_ALLOW_UNAUTHENTICATED=true/);
  },
);

test('EXOTEL_ALLOW_UNAUTHENTICATED=true: the service starts and warns at every start', async (t) => {
  for (let start = 1; start <= 2; start++) {
    const cluster = await startCluster(t, {
      PORT: String(await freePort()),
      WORKERS: '1',
      SUPPORT_EXOTEL: 'true',
      EXOTEL_ALLOW_UNAUTHENTICATED: 'true',
      EXOTEL_DEFAULT_TENANT: 'tenant-a',
    });
    const warning = await cluster.waitForLog(
      (e) => e.level === 'warn' && /EXOTEL_ALLOW_UNAUTHENTICATED=true/.test(String(e.msg)),
      `the warning at start ${start}`,
    );
    assert.equal(warning.role, 'primary');
    await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
    cluster.child.kill('SIGTERM');
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
  }
});
