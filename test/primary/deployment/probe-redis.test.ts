/**
 * validate:deployment's Redis probe in each topology, on real processes: a
 * Redis Cluster answers CLUSTER INFO with cluster_state:ok, the sentinels name
 * a master that answers PING, and a cluster whose seeds are all gone is red,
 * naming REDIS_CLUSTER_NODES. (The single-server cases run through the whole
 * script in test/ops/validate-deployment.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { freePorts } from '../../support/free-port';
import { REPO_ROOT } from '../../support/repo-root';
import { startRedisClusterNodes, startRedisSentinelGroup } from '../../support/redis-topology';

const PROBE = path.join(REPO_ROOT, 'dist', 'src', 'primary', 'deployment', 'probe-redis.js');

/** The probe's one line, run with exactly `env` and the adapter set to redis_streams. */
function probe(env: Record<string, string>): Promise<{ code: number | null; line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROBE], {
      env: {
        PATH: process.env.PATH ?? '',
        PUBSUB_ADAPTER: 'redis_streams',
        BACKEND_CONNECT_TIMEOUT_MS: '5000',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let line = '';
    child.stdout.on('data', (chunk: Buffer) => (line += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (line += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, line: line.trim() }));
  });
}

test('validate:deployment probes a Redis Cluster with CLUSTER INFO: green when cluster_state is ok', async (t) => {
  const cluster = await startRedisClusterNodes(t);
  const { code, line } = await probe({
    REDIS_CLUSTER_NODES: cluster.seeds.slice(0, 2).join(','),
    REDIS_STREAM_KEY: 'ingest:{tenant_id}:audio',
  });
  assert.equal(code, 0, line);
  assert.match(line, /^green REDIS_CLUSTER_NODES cluster .* answered CLUSTER INFO with cluster_state:ok in \d+ ms$/);
});

test('validate:deployment probes Sentinel: the master the sentinels name answers PING', async (t) => {
  const group = await startRedisSentinelGroup(t);
  const { code, line } = await probe({
    REDIS_SENTINELS: group.addresses.join(','),
    REDIS_SENTINEL_NAME: group.name,
    REDIS_URL: 'redis://:never-shown@ignored:1',
  });
  assert.equal(code, 0, line);
  assert.match(line, new RegExp(`^green REDIS_SENTINELS .* named master 127\\.0\\.0\\.1:${group.master.port}, `));
  assert.ok(!line.includes('never-shown'));
});

test('validate:deployment: a cluster whose seeds refuse connections is red, naming REDIS_CLUSTER_NODES', async () => {
  const closed = await freePorts(2);
  const { code, line } = await probe({
    REDIS_CLUSTER_NODES: closed.map((p) => `127.0.0.1:${p}`).join(','),
    REDIS_STREAM_KEY: 'ingest:{tenant_id}:audio',
  });
  assert.equal(code, 1, line);
  assert.match(line, /^red REDIS_CLUSTER_NODES cluster 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+ did not answer CLUSTER INFO/);
});
