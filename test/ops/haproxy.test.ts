/**
 * ops/haproxy/haproxy.cfg as operators run it: `haproxy -c` accepts it, and the
 * real HAProxy in front of two real instances (one worker each, Redis Streams)
 * passes native streams through (start, frames, ack, committed, stop), spreads
 * them over both, forwards the client's address, and takes an instance out
 * when the runtime API drains it, when its /ready fails and when it shuts down;
 * an upgrade that a shutting-down instance answers 503 is retried on the other.
 * The file takes up to eight instances (tests with three: test/scale).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import { ROUTES } from '../../src/shared/routes';
import { httpGet, pollUntil } from '../support/http-get';
import { testConfig } from '../support/ingest-server';
import { startTcpProxy } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';
import { makeKeyPair, signToken } from '../support/tokens';
import {
  checkHaproxyConfig,
  HAPROXY_CFG,
  haproxyEnv,
  HAPROXY_BACKEND,
  SERVER_DOWN,
  SERVER_UP,
  startHaproxy,
  type RunningHaproxy,
} from '../support/haproxy';
import {
  CLIENT_ADDRESS,
  FRAMES,
  finishStream,
  INSTANCE_ENV,
  loggedClients,
  openStream,
  streamsThrough,
  whereStored,
  type ProxiedStream,
} from '../support/proxied-streams';

test('haproxy -c accepts ops/haproxy/haproxy.cfg with its backends set, and refuses it without them', async (t) => {
  const setup = await haproxyEnv(t, [5001, 5002]);
  const valid = await checkHaproxyConfig(setup.env);
  assert.equal(valid.code, 0, valid.output);
  assert.match(valid.output, /Configuration file is valid/);

  const { INGEST_BACKEND_2: _unset, ...missing } = setup.env;
  const invalid = await checkHaproxyConfig(missing);
  assert.notEqual(invalid.code, 0, 'a server without an address is refused');
  assert.match(invalid.output, /'server' expects <name> and <addr>/);
});

test("haproxy.cfg probes the service's /ready and outlasts its pings on an upgraded connection", () => {
  const cfg = fs.readFileSync(HAPROXY_CFG, 'utf8');
  assert.match(cfg, new RegExp(`^\\s*option httpchk GET ${ROUTES.ready}$`, 'm'));
  const tunnel = /^\s*timeout tunnel (\d+)s$/m.exec(cfg);
  assert.ok(tunnel, 'timeout tunnel set in seconds');
  const { pingIntervalMs } = testConfig();
  assert.ok(Number(tunnel[1]) * 1000 > 2 * pingIntervalMs, `timeout tunnel ${tunnel[1]}s > 2 × ${pingIntervalMs} ms`);
});

test('haproxy.cfg takes up to eight instances, a server line for each INGEST_BACKEND_<n> set', async (t) => {
  const cfg = fs.readFileSync(HAPROXY_CFG, 'utf8');
  for (let n = 3; n <= 8; n++) {
    const block = `.if defined(INGEST_BACKEND_${n})\n    server ingest${n} "\${INGEST_BACKEND_${n}}"\n.endif\n`;
    assert.ok(cfg.includes(block), `ingest${n} only when INGEST_BACKEND_${n} is set`);
  }
  const eight = await checkHaproxyConfig((await haproxyEnv(t, [5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008])).env);
  assert.equal(eight.code, 0, eight.output);
});

test('haproxy.cfg retries a failed upgrade on another server: failed connect, no answer, 503; not a timeout', () => {
  const cfg = fs.readFileSync(HAPROXY_CFG, 'utf8');
  assert.match(cfg, /^\s*retry-on conn-failure empty-response 503$/m);
  assert.doesNotMatch(cfg, /^\s*retry-on .*response-timeout/m, 'no replay after timeout server (30 s)');
  assert.match(cfg, /^\s*option redispatch 1$/m, 'every retry on another server');
  const retries = /^\s*retries (\d+)$/m.exec(cfg);
  assert.ok(retries && Number(retries[1]) >= 2, 'a retry for each of the other instances at least');
});

/** Streams held open together once HAProxy counts no open session, so leastconn sees every server equal. */
async function balanced(
  t: TestContext,
  lb: RunningHaproxy,
  token: string,
  label: string,
  count: number,
): Promise<ProxiedStream[]> {
  await lb.waitForNoSessions();
  return streamsThrough(t, lb.url, token, label, count);
}

test(
  'HAProxy in front of two instances: streams spread over both, the client address is forwarded, ' +
    'and a drained, unready or stopped instance gets no new streams',
  { timeout: 120_000 },
  async (t) => {
    const keys = makeKeyPair('ec');
    const token = signToken(keys.privateKey, { tenant_id: 'tenant-a' });
    // Instance 1 reaches Redis through a proxy the test can cut, which turns its /ready 503.
    const redisLink = await startTcpProxy(t);
    const env = { ...INSTANCE_ENV, JWT_PUBLIC_KEY: keys.publicKeyPem };
    const instances = [
      await startRedisCluster(t, 'lb-1', env, { redisUrl: redisLink.url }),
      await startRedisCluster(t, 'lb-2', env),
    ];
    const lb = await startHaproxy(t, await haproxyEnv(t, [instances[0].port, instances[1].port]));
    await lb.waitForServers({ ingest1: SERVER_UP, ingest2: SERVER_UP }, 'both servers up');

    await t.test('leastconn spreads streams held open together over both instances', async () => {
      const streams = await balanced(t, lb, token, 'spread', 4);
      assert.deepEqual((await whereStored(instances, streams)).sort(), ['ingest1', 'ingest1', 'ingest2', 'ingest2']);
    });

    await t.test("the service sees the client's address, not a forged X-Forwarded-For", () => {
      assert.deepEqual(loggedClients(instances, 'spread'), Array(4).fill(CLIENT_ADDRESS));
    });

    await t.test('a server drained through the runtime API gets no new streams, then takes them again', async () => {
      assert.equal((await lb.command(`set server ${HAPROXY_BACKEND}/ingest1 state drain`)).trim(), '');
      const drained = await balanced(t, lb, token, 'drained', 2);
      assert.deepEqual(await whereStored(instances, drained), ['ingest2', 'ingest2']);
      assert.equal((await lb.command(`set server ${HAPROXY_BACKEND}/ingest1 state ready`)).trim(), '');
      const back = await balanced(t, lb, token, 'undrained', 2);
      assert.deepEqual((await whereStored(instances, back)).sort(), ['ingest1', 'ingest2']);
    });

    await t.test('an instance whose /ready answers 503 is marked down, and up again when it recovers', async () => {
      redisLink.cut();
      await lb.waitForServers({ ingest1: SERVER_DOWN, ingest2: SERVER_UP }, 'ingest1 down on its /ready');
      const ready = await httpGet(`http://127.0.0.1:${instances[0].port}${ROUTES.ready}`);
      assert.equal(ready.status, 503, 'the instance runs, unready');
      const failedOver = await balanced(t, lb, token, 'unready', 2);
      assert.deepEqual(await whereStored(instances, failedOver), ['ingest2', 'ingest2']);
      redisLink.restore();
      await lb.waitForServers({ ingest1: SERVER_UP, ingest2: SERVER_UP }, 'ingest1 up again');
    });

    await t.test('an instance stopped with SIGTERM is marked down; new streams go to the other', async () => {
      instances[1].cluster.child.kill('SIGTERM');
      assert.deepEqual(await instances[1].cluster.exited, { code: 0, signal: null });
      await lb.waitForServers({ ingest1: SERVER_UP, ingest2: SERVER_DOWN }, 'ingest2 down after SIGTERM');
      const failedOver = await balanced(t, lb, token, 'stopped', 2);
      assert.deepEqual(await whereStored(instances, failedOver), ['ingest1', 'ingest1']);
    });
  },
);

test(
  'an upgrade that a shutting-down instance answers 503 is retried by HAProxy on the other one: the client gets 101',
  { timeout: 120_000 },
  async (t) => {
    const keys = makeKeyPair('ec');
    const token = signToken(keys.privateKey, { tenant_id: 'tenant-a' });
    // Cut from Redis, instance 1 cannot finish its shutdown: it stays up, answering 503, until the link is back.
    const redisLink = await startTcpProxy(t);
    const env = { ...INSTANCE_ENV, JWT_PUBLIC_KEY: keys.publicKeyPem };
    const instances = [
      await startRedisCluster(t, 'retry-1', env, { redisUrl: redisLink.url }),
      await startRedisCluster(t, 'retry-2', env),
    ];
    // Checks a minute apart: HAProxy keeps instance 1 up for the whole test, so only retry-on keeps 503s from clients.
    const lb = await startHaproxy(t, await haproxyEnv(t, [instances[0].port, instances[1].port], '60s'));
    await lb.waitForServers({ ingest1: SERVER_UP, ingest2: SERVER_UP }, 'both servers up');

    // Two streams held on instance 2 and one on instance 1, so leastconn offers every new stream to instance 1 first.
    assert.equal((await lb.command(`set server ${HAPROXY_BACKEND}/ingest1 state drain`)).trim(), '');
    const held = [await openStream(t, lb.url, token, 'held-0'), await openStream(t, lb.url, token, 'held-1')];
    assert.equal((await lb.command(`set server ${HAPROXY_BACKEND}/ingest1 state ready`)).trim(), '');
    const stranded = await openStream(t, lb.url, token, 'stranded');
    await instances[0].cluster.waitForLog(
      (e) => e.msg === 'stream started' && e.interaction_id === 'stranded',
      'the stranded stream on instance 1',
    );
    redisLink.cut();
    for (const frame of stranded.sent.frames) stranded.client.sendFrame(frame);
    await stranded.client.waitForMessage((m) => m.type === 'ack' && m.seq === FRAMES);
    instances[0].cluster.child.kill('SIGTERM');
    await instances[0].cluster.waitForLog(
      (e) => e.msg === 'shutting down: workers flush and publish every stream',
      'instance 1 shutting down',
    );

    for (let i = 0; i < 3; i++) await streamsThrough(t, lb.url, token, `retried-${i}`, 1);
    await pollUntil(async () => (lb.retriedUpgrades() >= 3 ? true : undefined), 'three retried upgrades logged');
    // Each retry began as an upgrade instance 1 refused with 503 not_ready (a 503'd upgrade never reaches start).
    const notReady = instances[0].cluster
      .logs()
      .filter((e) => e.code === 'not_ready' && e.status === 503 && String(e.msg).startsWith('upgrade refused'));
    assert.ok(notReady.length >= 3, `instance 1 refused the retried upgrades: ${notReady.length} not_ready refusals`);
    const retried = ['retried-0-0', 'retried-1-0', 'retried-2-0'];
    const startedOn2 = instances[1].cluster.logs().filter((e) => e.msg === 'stream started');
    for (const id of retried)
      assert.ok(
        startedOn2.some((e) => e.interaction_id === id),
        `${id} started on instance 2`,
      );

    redisLink.restore();
    assert.equal((await stranded.client.closed).code, 1001, 'the stranded stream ends once published');
    assert.deepEqual(await instances[0].cluster.exited, { code: 0, signal: null });
    await Promise.all(held.map(finishStream));
  },
);
