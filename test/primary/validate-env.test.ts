import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';

import { REPO_ROOT as root } from '../support/repo-root';
const script = path.join(root, 'dist', 'src', 'primary', 'validate-env.js');

interface Run {
  code: number | null;
  output: string;
}

/** Runs validate:env with exactly `env` (nothing inherited, so the host's NODE_ENV cannot leak in). */
function validateEnv(env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('validate:env exits 78 and lists every bad variable', async () => {
  const bad = {
    PORT: '70000',
    WORKERS: '0',
    PUBSUB_ADAPTER: 'rabbit',
    SUPPORT_EXOTEL: 'maybe',
    JWT_ALGORITHMS: 'HS256',
    BUFFER_DURATION_MS: '50',
  };
  const { code, output } = await validateEnv(bad);
  assert.equal(code, 78, output);
  assert.match(output, /configuration invalid: 6 problems/);
  for (const variable of Object.keys(bad)) assert.match(output, new RegExp(`^  ${variable}: got "`, 'm'), output);
  assert.ok(!output.includes('\u001b['), 'no colour when stdout is not a terminal');
});

test('validate:env exits 78 on a JWKS URL over plain http to a host that is not loopback', async () => {
  const { code, output } = await validateEnv({ JWT_JWKS_URL: 'http://id.example.com/jwks' });
  assert.equal(code, 78, output);
  assert.match(output, /configuration invalid: 1 problem/);
  assert.match(output, /^ {2}JWT_JWKS_URL: got "http:\/\/id\.example\.com\/jwks".*only to a loopback address/m);
});

test('validate:env exits 0 on a valid configuration', async () => {
  const { code, output } = await validateEnv({
    PORT: '8080',
    WORKERS: '2',
    PUBSUB_ADAPTER: 'redis_streams',
    REDIS_URL: 'redis://127.0.0.1:6379',
  });
  assert.equal(code, 0, output);
  assert.equal(output, 'configuration OK: adapter redis_streams, port 8080, 2 workers\n');
});
