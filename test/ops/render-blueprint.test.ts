/**
 * ops/render.yaml, read by a real YAML parser (PyYAML: Debian's python3-yaml;
 * the project has no YAML dependency) and checked against what the service
 * itself defines: every variable is one the configuration schema knows, secrets
 * never carry a value, the values pass the service's own validation, the health
 * check path is the route, the start command is the start script, and Render's
 * stop grace covers the shutdown deadline.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/shared/config/config';
import { schema, SENSITIVE_KEYS } from '../../src/shared/config/config-schema';
import { ROUTES } from '../../src/shared/routes';
import { REPO_ROOT } from '../support/repo-root';

interface EnvVar {
  key: string;
  value?: string;
  sync?: boolean;
  generateValue?: boolean;
  fromService?: { type: string; name: string; property: string };
}

interface Service {
  type: string;
  name: string;
  runtime?: string;
  buildCommand?: string;
  startCommand?: string;
  healthCheckPath?: string;
  maxShutdownDelaySeconds?: number;
  envVars?: EnvVar[];
}

/** Variables Render itself reads, not the service. */
const RENDER_VARIABLES = new Set(['NODE_VERSION']);

/** What an operator fills in for each variable the blueprint leaves to them (sync: false). */
const OPERATOR_VALUES: Record<string, string> = {
  JWT_PUBLIC_KEY: crypto
    .generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString(),
  TRUSTED_PROXIES: '10.0.0.0/8',
};

/** What Render fills in from another service of the blueprint. */
const FROM_SERVICE_VALUES: Record<string, string> = {
  'keyvalue.connectionString': 'redis://red-abc123:6379',
};

function parseYaml(file: string): unknown {
  const python = spawnSync(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: fs.readFileSync(file, 'utf8'), encoding: 'utf8' },
  );
  assert.equal(python.error, undefined, 'python3 runs (Debian packages python3 and python3-yaml)');
  assert.equal(python.status, 0, `PyYAML parses ${file}: ${python.stderr}`);
  return JSON.parse(python.stdout);
}

const blueprint = parseYaml(path.join(REPO_ROOT, 'ops', 'render.yaml')) as { services: Service[] };
const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  engines: { node: string };
};
const web = blueprint.services.filter((s) => s.type === 'web');
const service = web[0];
const envVars = service.envVars ?? [];
const variables = new Set(Object.values(schema).map((setting) => setting.env));
const sensitive = new Set(SENSITIVE_KEYS.map((key) => schema[key].env));

test('one web service on the node runtime, started as npm start starts it, checked on /health', () => {
  assert.equal(web.length, 1);
  assert.equal(service.runtime, 'node');
  assert.equal(service.startCommand, pkg.scripts.start);
  assert.equal(service.healthCheckPath, ROUTES.health);
});

test('the build installs the dev dependencies that build it, then drops them', () => {
  const nodeEnv = envVars.find((v) => v.key === 'NODE_ENV')?.value;
  const build = service.buildCommand ?? '';
  assert.match(build, /\bnpm ci\b/, 'installs from the lockfile');
  // Render gives the build the service's variables: npm ci omits dev dependencies under NODE_ENV=production.
  if (nodeEnv === 'production') assert.match(build, /\bnpm ci\b[^&]*--include=dev\b/);
  assert.match(build, /\bnpm prune --omit=dev\b/);
});

test('every variable is one the configuration schema knows (or Render reads), each set once, from one source', () => {
  const keys = envVars.map((v) => v.key);
  assert.deepEqual(keys, [...new Set(keys)], 'no variable twice');
  for (const v of envVars) {
    assert.ok(variables.has(v.key) || RENDER_VARIABLES.has(v.key), `${v.key} is in config-schema.ts`);
    const sources = ['value', 'sync', 'generateValue', 'fromService'].filter((s) => s in v);
    assert.equal(sources.length, 1, `${v.key} has one source: ${sources.join(', ')}`);
    if ('sync' in v) assert.equal(v.sync, false, `${v.key}: sync is only ever false`);
    if (v.value !== undefined) assert.equal(typeof v.value, 'string', `${v.key}: a quoted string, as Render wants`);
  }
  const nodeVersion = envVars.find((v) => v.key === 'NODE_VERSION')?.value ?? '';
  // The supported lines, where they are pinned (ops/dev/node.sh, the one list).
  const lines = execFileSync('bash', [path.join(REPO_ROOT, 'ops', 'dev', 'node.sh'), '--lines'], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
  assert.ok(lines.includes(nodeVersion), `NODE_VERSION ${nodeVersion}: a supported line (${lines.join(', ')})`);
});

test('a secret never has its value in the file: Render asks for it, or takes it from another service', () => {
  for (const v of envVars.filter((e) => sensitive.has(e.key))) {
    assert.ok(v.sync === false || v.fromService !== undefined, `${v.key} is a secret (sensitive in the schema)`);
  }
  for (const v of envVars.filter((e) => e.fromService)) {
    const from = v.fromService as NonNullable<EnvVar['fromService']>;
    assert.ok(
      blueprint.services.some((s) => s.type === from.type && s.name === from.name),
      `${v.key} comes from a ${from.type} named ${from.name} in the blueprint`,
    );
  }
});

test("the blueprint's values, with the operator's, pass the service's own validation", () => {
  const env: Record<string, string> = {};
  for (const v of envVars) {
    if (RENDER_VARIABLES.has(v.key)) continue;
    if (v.value !== undefined) env[v.key] = v.value;
    else if (v.fromService) env[v.key] = FROM_SERVICE_VALUES[`${v.fromService.type}.${v.fromService.property}`];
    else env[v.key] = OPERATOR_VALUES[v.key];
    assert.ok(env[v.key] !== undefined, `the test knows a value for ${v.key}`);
  }
  const result = loadConfig(env);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  assert.equal(result.config.nodeEnv, 'production');
  assert.deepEqual(result.warnings, [], 'no start-up warning (TLS ends at Render, TRUSTED_PROXIES says so)');
});

test("Render's stop grace exceeds SHUTDOWN_TIMEOUT_MS by 10 s at least (docs/operations.md, Signals)", () => {
  const set = envVars.find((v) => v.key === schema.shutdownTimeoutMs.env)?.value;
  const shutdownMs = set === undefined ? schema.shutdownTimeoutMs.default : Number(set);
  assert.ok((service.maxShutdownDelaySeconds ?? 30) * 1000 >= shutdownMs + 10_000, `${shutdownMs} ms`);
});
