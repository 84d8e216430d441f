/**
 * ops/haproxy/haproxy.cfg as operators run it: `haproxy -c` accepts it, and the
 * real HAProxy in front of two real instances (one worker each, Redis Streams)
 * passes native streams through (start, frames, ack, committed, stop), spreads
 * them over both, forwards the client's address, and takes an instance out
 * when the runtime API drains it, when its /ready fails and when it shuts down.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { ROUTES } from '../../src/shared/routes';
import { field } from '../support/field-map';
import { httpGet } from '../support/http-get';
import { frameBytes, testConfig } from '../support/ingest-server';
import { readStream, startTcpProxy } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { assertAudioCovers, byInteraction, type SentStream } from '../support/stream-check';
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

const FRAMES = 30;
const ACK_INTERVAL = 10;
/** Where the test's clients connect from, so the address HAProxy forwards is not HAProxy's own. */
const CLIENT_ADDRESS = '127.0.0.2';

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

interface Stream {
  readonly client: IngestClient;
  readonly sent: SentStream;
}

/** Connects through HAProxy (from CLIENT_ADDRESS, with a forged X-Forwarded-For) and starts a stream. */
async function open(t: TestContext, lb: RunningHaproxy, token: string, interactionId: string): Promise<Stream> {
  const client = await IngestClient.connect(lb.url, {
    token,
    localAddress: CLIENT_ADDRESS,
    headers: { 'X-Forwarded-For': '203.0.113.7' },
  });
  t.after(() => {
    if (!client.closeState) client.ws.terminate();
  });
  await client.start({ interactionId });
  const frames = Array.from({ length: FRAMES }, (_, k) => frameBytes(interactionId.length, k + 1));
  return { client, sent: { interactionId, tenantId: 'tenant-a', firstSeq: 1, frames } };
}

/** Sends every frame, waits for the last ack and commit, stops: `stopped` and close 1000. */
async function finish({ client, sent }: Stream): Promise<void> {
  for (const frame of sent.frames) client.sendFrame(frame);
  await client.waitForMessage((m) => m.type === 'ack' && m.seq === FRAMES);
  await client.waitFor(() => client.lastCommitted() >= FRAMES, `committed ${FRAMES}`);
  const { stopped, close } = await client.stop();
  assert.equal(stopped?.last_seq, FRAMES);
  assert.equal(close.code, 1000);
}

/** Which instance stored each stream (from each one's own Redis key), after checking every frame. */
async function whereStored(instances: readonly RedisCluster[], streams: readonly Stream[]): Promise<string[]> {
  const stored = await Promise.all(instances.map(async (i) => byInteraction(await readStream(i.admin, i.streamKey))));
  return streams.map(({ sent }) => {
    const holders = stored.flatMap((grouped, k) => (grouped.has(sent.interactionId) ? [k] : []));
    assert.equal(holders.length, 1, `${sent.interactionId}: stored by exactly one instance (${holders.join()})`);
    const records = stored[holders[0]].get(sent.interactionId)!;
    assertAudioCovers(records, sent, FRAMES);
    assert.equal(field(records.at(-1)!, 'type'), 'stream_ended');
    return `ingest${holders[0] + 1}`;
  });
}

/**
 * `count` streams opened one after another and held open together, then finished. Starts once
 * HAProxy counts no open session, so leastconn sees every server equal.
 */
async function streamsThrough(
  t: TestContext,
  lb: RunningHaproxy,
  token: string,
  label: string,
  count: number,
): Promise<Stream[]> {
  await lb.waitForNoSessions();
  const streams: Stream[] = [];
  for (let i = 0; i < count; i++) streams.push(await open(t, lb, token, `${label}-${i}`));
  await Promise.all(streams.map(finish));
  return streams;
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
    const env = {
      WORKERS: '1',
      ACK_INTERVAL: String(ACK_INTERVAL),
      BUFFER_DURATION_MS: '100',
      JWT_PUBLIC_KEY: keys.publicKeyPem,
      TRUSTED_PROXIES: '127.0.0.1',
    };
    const instances = [
      await startRedisCluster(t, 'lb-1', env, { redisUrl: redisLink.url }),
      await startRedisCluster(t, 'lb-2', env),
    ];
    const lb = await startHaproxy(t, await haproxyEnv(t, [instances[0].port, instances[1].port]));
    await lb.waitForServers({ ingest1: SERVER_UP, ingest2: SERVER_UP }, 'both servers up');

    await t.test('leastconn spreads streams held open together over both instances', async () => {
      const streams = await streamsThrough(t, lb, token, 'spread', 4);
      assert.deepEqual((await whereStored(instances, streams)).sort(), ['ingest1', 'ingest1', 'ingest2', 'ingest2']);
    });

    await t.test("the service sees the client's address, not a forged X-Forwarded-For", () => {
      const started = instances
        .flatMap((i) => i.cluster.logs())
        .filter((e) => e.msg === 'stream started' && String(e.interaction_id).startsWith('spread-'));
      assert.equal(started.length, 4);
      for (const entry of started) assert.equal(entry.client, CLIENT_ADDRESS);
    });

    await t.test('a server drained through the runtime API gets no new streams, then takes them again', async () => {
      assert.equal((await lb.command(`set server ${HAPROXY_BACKEND}/ingest1 state drain`)).trim(), '');
      const drained = await streamsThrough(t, lb, token, 'drained', 2);
      assert.deepEqual(await whereStored(instances, drained), ['ingest2', 'ingest2']);
      assert.equal((await lb.command(`set server ${HAPROXY_BACKEND}/ingest1 state ready`)).trim(), '');
      const back = await streamsThrough(t, lb, token, 'undrained', 2);
      assert.deepEqual((await whereStored(instances, back)).sort(), ['ingest1', 'ingest2']);
    });

    await t.test('an instance whose /ready answers 503 is marked down, and up again when it recovers', async () => {
      redisLink.cut();
      await lb.waitForServers({ ingest1: SERVER_DOWN, ingest2: SERVER_UP }, 'ingest1 down on its /ready');
      const ready = await httpGet(`http://127.0.0.1:${instances[0].port}${ROUTES.ready}`);
      assert.equal(ready.status, 503, 'the instance runs, unready');
      const failedOver = await streamsThrough(t, lb, token, 'unready', 2);
      assert.deepEqual(await whereStored(instances, failedOver), ['ingest2', 'ingest2']);
      redisLink.restore();
      await lb.waitForServers({ ingest1: SERVER_UP, ingest2: SERVER_UP }, 'ingest1 up again');
    });

    await t.test('an instance stopped with SIGTERM is marked down; new streams go to the other', async () => {
      instances[1].cluster.child.kill('SIGTERM');
      assert.deepEqual(await instances[1].cluster.exited, { code: 0, signal: null });
      await lb.waitForServers({ ingest1: SERVER_UP, ingest2: SERVER_DOWN }, 'ingest2 down after SIGTERM');
      const failedOver = await streamsThrough(t, lb, token, 'stopped', 2);
      assert.deepEqual(await whereStored(instances, failedOver), ['ingest1', 'ingest1']);
    });
  },
);
