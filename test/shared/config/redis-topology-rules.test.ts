/**
 * The configuration rules of the Redis topologies (docs/redis.md): REDIS_URL
 * optional with REDIS_CLUSTER_NODES or REDIS_SENTINELS, the two exclusive, a
 * sentinel group's name required, and a cluster key template whose first {…}
 * must be a placeholder unless REDIS_CLUSTER_ALLOW_UNTAGGED_KEY=true.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, type ConfigProblem } from '../../../src/shared/config/config';

const REDIS = { PUBSUB_ADAPTER: 'redis_streams' };
const NODES = '127.0.0.1:7000,127.0.0.1:7001';

function problemsOf(env: NodeJS.ProcessEnv): ConfigProblem[] {
  const result = loadConfig(env);
  return result.ok ? [] : result.problems;
}

test('REDIS_CLUSTER_NODES or REDIS_SENTINELS satisfies redis_streams without REDIS_URL', () => {
  assert.deepEqual(problemsOf({ ...REDIS, REDIS_CLUSTER_NODES: NODES, REDIS_STREAM_KEY: 'i:{tenant_id}:a' }), []);
  assert.deepEqual(problemsOf({ ...REDIS, REDIS_SENTINELS: NODES, REDIS_SENTINEL_NAME: 'main' }), []);
  const result = loadConfig({ ...REDIS, REDIS_CLUSTER_NODES: NODES, REDIS_STREAM_KEY: 'i:{tenant_id}:a' });
  assert.ok(result.ok);
  assert.deepEqual(result.config.redisClusterNodes, ['127.0.0.1:7000', '127.0.0.1:7001']);
  assert.equal(result.config.redisWaitReplicas, 0);
  assert.equal(result.config.redisWaitTimeoutMs, 1000);
});

test('redis_streams with no REDIS_URL, cluster or sentinels names all three', () => {
  const [problem, ...rest] = problemsOf(REDIS);
  assert.deepEqual(rest, []);
  assert.equal(problem.variable, 'REDIS_URL');
  assert.match(problem.expected, /REDIS_CLUSTER_NODES or REDIS_SENTINELS/);
});

test('REDIS_CLUSTER_NODES and REDIS_SENTINELS are exclusive', () => {
  const problems = problemsOf({
    ...REDIS,
    REDIS_CLUSTER_NODES: NODES,
    REDIS_STREAM_KEY: '{tenant_id}',
    REDIS_SENTINELS: NODES,
    REDIS_SENTINEL_NAME: 'main',
  });
  assert.deepEqual(
    problems.map((p) => p.variable),
    ['REDIS_SENTINELS'],
  );
  assert.match(problems[0].expected, /unset when REDIS_CLUSTER_NODES is set/);
});

test('REDIS_SENTINELS needs REDIS_SENTINEL_NAME', () => {
  const problems = problemsOf({ ...REDIS, REDIS_SENTINELS: NODES });
  assert.deepEqual(
    problems.map((p) => p.variable),
    ['REDIS_SENTINEL_NAME'],
  );
});

test('a cluster key template without a placeholder hash tag is refused, naming the variables', () => {
  for (const key of ['ingest:audio', 'ingest:{audio}:{tenant_id}', '{tenant}:x']) {
    const problems = problemsOf({ ...REDIS, REDIS_CLUSTER_NODES: NODES, REDIS_STREAM_KEY: key });
    assert.deepEqual(
      problems.map((p) => p.variable),
      ['REDIS_STREAM_KEY'],
      key,
    );
    assert.match(problems[0].expected, /first \{…\} is \{tenant_id\} or \{interaction_id\} with REDIS_CLUSTER_NODES/);
    assert.match(problems[0].expected, /one shard; set REDIS_CLUSTER_ALLOW_UNTAGGED_KEY=true/);
  }
});

test('REDIS_CLUSTER_ALLOW_UNTAGGED_KEY=true accepts such a template; a placeholder tag needs no permission', () => {
  const allowed = { ...REDIS, REDIS_CLUSTER_NODES: NODES, REDIS_CLUSTER_ALLOW_UNTAGGED_KEY: 'true' };
  assert.deepEqual(problemsOf({ ...allowed, REDIS_STREAM_KEY: 'ingest:audio' }), []);
  for (const key of ['ingest:{tenant_id}:audio', 'x:{interaction_id}', '{tenant_id}:{interaction_id}']) {
    assert.deepEqual(problemsOf({ ...REDIS, REDIS_CLUSTER_NODES: NODES, REDIS_STREAM_KEY: key }), [], key);
  }
});

test('the cluster key-template check applies to redis_streams only: another adapter never writes that key', () => {
  for (const adapter of ['in_memory', 'kafka']) {
    const env = { PUBSUB_ADAPTER: adapter, KAFKA_BROKERS: '127.0.0.1:9092', REDIS_CLUSTER_NODES: NODES };
    const problems = problemsOf({ ...env, REDIS_STREAM_KEY: 'ingest:audio' });
    assert.deepEqual(
      problems.map((p) => p.variable),
      [],
      adapter,
    );
  }
});

test('outside cluster mode any template is accepted, as before', () => {
  assert.deepEqual(problemsOf({ ...REDIS, REDIS_URL: 'redis://localhost', REDIS_STREAM_KEY: 'ingest:audio' }), []);
});

test('REDIS_WAIT_TIMEOUT_MS is bounded below the command timeout', () => {
  const problems = problemsOf({ REDIS_WAIT_TIMEOUT_MS: '60000', REDIS_WAIT_REPLICAS: '-1' });
  assert.deepEqual(problems.map((p) => p.variable).sort(), ['REDIS_WAIT_REPLICAS', 'REDIS_WAIT_TIMEOUT_MS']);
});
