/**
 * No runtime warning on the Node.js that runs the suite (24; .ci/run runs it on
 * 22 too): the service is started as a user starts it (`node
 * dist/src/primary/main.js`, what `npm start` runs) with each backend, takes a
 * stream, answers /metrics and /health, and stops on SIGTERM, with Node.js told
 * to report pending deprecations too. A DeprecationWarning, or any other process
 * warning (kafkajs's TimeoutNegativeWarning was one), from our code or from ws,
 * ioredis, kafkajs, prom-client, pino or jsonwebtoken fails the test.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { startCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { httpGet } from '../support/http-get';
import { deleteTopicAfter, SHARED_BROKERS } from '../support/kafka';
import { redisScratch, REDIS_URL } from '../support/redis';
import { makeKeyPair, signToken } from '../support/tokens';
import { uniqueName } from '../support/unique-name';

/** Every deprecation Node.js knows of, with the stack of where it was used. */
const NODE_OPTIONS = '--pending-deprecation --trace-deprecation --trace-warnings';
/** How Node.js prints a process warning: `(node:1234) [DEP0005] DeprecationWarning: …`, `(node:1234) XWarning: …`. */
const PROCESS_WARNING = /\(node:\d+\) (\[\w+\] )?\w*Warning\b/;

/**
 * Runs the cluster with `env` through one stream, a scrape and a health check,
 * then SIGTERM; returns everything it wrote, stdout and stderr.
 */
async function runOnce(t: TestContext, env: Record<string, string>, jwt: boolean): Promise<string> {
  const port = await freePort();
  const keys = makeKeyPair('ec');
  const cluster = await startCluster(t, {
    PORT: String(port),
    WORKERS: '2',
    NODE_OPTIONS,
    ...(jwt ? { JWT_PUBLIC_KEY: keys.publicKeyPem } : {}),
    ...env,
  });
  await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
  // Without a key, as on a first `npm start`: the development token the primary logs.
  const token = jwt
    ? signToken(keys.privateKey, { tenant_id: 'tenant-a' })
    : String((await cluster.waitForLog((e) => typeof e.dev_token === 'string', 'dev token')).dev_token);
  const client = await IngestClient.connect(`ws://127.0.0.1:${port}/v1/ingest`, { token });
  await client.start({ interactionId: uniqueName('warnings') });
  for (let seq = 1; seq <= 20; seq++) client.sendFrame(Buffer.alloc(320, seq));
  const { close } = await client.stop();
  assert.equal(close.code, 1000, `closed ${close.code} ${close.reason}`);
  assert.equal(client.lastCommitted(), 20);
  const metrics = await httpGet(`http://127.0.0.1:${cluster.metricsPort}/metrics`);
  assert.equal(metrics.status, 200);
  assert.equal((await httpGet(`http://127.0.0.1:${cluster.metricsPort}/health`)).status, 200);
  cluster.child.kill('SIGTERM');
  assert.equal((await cluster.exited).code, 0);
  return [...cluster.lines, ...cluster.stderr].join('\n');
}

function assertNoWarning(output: string): void {
  const warning = PROCESS_WARNING.exec(output);
  assert.equal(warning, null, `the service printed a runtime warning:\n${output.slice(warning?.index ?? 0)}`);
}

test(`on Node.js ${process.versions.node}: in_memory, no key (a first npm start) prints no warning`, async (t) => {
  assertNoWarning(await runOnce(t, { PUBSUB_ADAPTER: 'in_memory' }, false));
});

test(`on Node.js ${process.versions.node}: redis_streams prints no warning`, async (t) => {
  const { prefix } = redisScratch(t, 'warnings');
  assertNoWarning(
    await runOnce(t, { PUBSUB_ADAPTER: 'redis_streams', REDIS_URL, REDIS_STREAM_KEY: `${prefix}:audio` }, true),
  );
});

test(`on Node.js ${process.versions.node}: kafka prints no warning`, async (t) => {
  const topic = uniqueName('warnings');
  deleteTopicAfter(t, SHARED_BROKERS, topic);
  const env = {
    PUBSUB_ADAPTER: 'kafka',
    KAFKA_BROKERS: SHARED_BROKERS.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_CREATE_TOPIC: 'true',
    KAFKA_TOPIC_PARTITIONS: '1',
    KAFKA_TOPIC_REPLICATION: '1',
    BACKEND_CONNECT_TIMEOUT_MS: '30000',
  };
  assertNoWarning(await runOnce(t, env, true));
});

test('the pattern catches the warnings Node.js prints', () => {
  assert.match('(node:42) [DEP0005] DeprecationWarning: Buffer() is deprecated', PROCESS_WARNING);
  assert.match('(node:42) TimeoutNegativeWarning: -5 is a negative number.', PROCESS_WARNING);
  assert.match('(node:42) Warning: something', PROCESS_WARNING);
  assert.doesNotMatch('{"level":"warn","msg":"no JWT_PUBLIC_KEY configured"}', PROCESS_WARNING);
});
