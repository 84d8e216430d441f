/**
 * Dependencies operators can audit: every production dependency is there
 * because the running service loads it, nothing it loads is left undeclared or
 * declared for development only, the image installs from the lockfile only, and
 * `npm run sbom` lists exactly the production packages of the lockfile (and no
 * development one) as CycloneDX JSON, for the operator's scanner.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/repo-root';

interface PackageJson {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

interface LockEntry {
  name?: string;
  version: string;
  dev?: boolean;
  devOptional?: boolean;
}

interface CycloneDx {
  bomFormat: string;
  specVersion: string;
  metadata: { component: { 'bom-ref': string; name: string; type: string } };
  components: Array<{ 'bom-ref': string; name: string; version: string; purl: string }>;
  dependencies: Array<{ ref: string; dependsOn?: string[] }>;
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const pkg = readJson<PackageJson>(path.join(REPO_ROOT, 'package.json'));
const lock = readJson<{ packages: Record<string, LockEntry> }>(path.join(REPO_ROOT, 'package-lock.json'));
const dependencies = Object.keys(pkg.dependencies).sort();

/** What the issue named; whatever is added later must be loaded by the service too (next test). */
const NAMED = ['convict', 'ioredis', 'jsonwebtoken', 'kafkajs', 'pino', 'prom-client', 'ws'];

/** `name@version` of every package in the lockfile, split into production and development ones. */
function lockPackages(): { production: string[]; development: string[] } {
  const production: string[] = [];
  const development: string[] = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (where === '') continue;
    const name = entry.name ?? where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
    (entry.dev || entry.devOptional ? development : production).push(`${name}@${entry.version}`);
  }
  return { production: [...new Set(production)].sort(), development: [...new Set(development)].sort() };
}

/** The bare module names the compiled service requires (tsc drops type-only imports). */
function requiredPackages(dir: string): Set<string> {
  const found = new Set<string>();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
    const code = fs.readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
    for (const [, spec] of code.matchAll(/\brequire\("([^".][^"]*)"\)/g)) {
      if (spec.startsWith('node:')) continue;
      const parts = spec.split('/');
      found.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  return found;
}

test('the production dependencies are the ones the issue named, or added since', () => {
  for (const name of NAMED) assert.ok(dependencies.includes(name), `${name} is a production dependency`);
});

test('every production dependency is loaded by the running service, and it loads no other package', () => {
  const loaded = [...requiredPackages(path.join(REPO_ROOT, 'dist', 'src'))].sort();
  assert.deepEqual(loaded, dependencies, 'packages required under dist/src = package.json dependencies');
  for (const name of loaded) assert.ok(!(name in pkg.devDependencies), `${name} is not a dev dependency`);
});

test('the Dockerfile installs from the lockfile only, and the runtime stage has no dev dependency', () => {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runs = dockerfile.split('\n').filter((line) => /^\s*RUN\b/.test(line));
  assert.ok(
    runs.some((run) => /\bnpm ci\b/.test(run)),
    'the build stage runs npm ci',
  );
  for (const run of runs) assert.doesNotMatch(run, /\bnpm (install|i|add|update)\b/, run);
  assert.ok(
    runs.some((run) => /\bnpm ci\b[^&;|]*--omit=dev\b/.test(run)),
    'the node_modules the image runs with come from npm ci --omit=dev',
  );
  assert.match(dockerfile, /COPY package\.json package-lock\.json/);
  assert.doesNotMatch(dockerfile, /^FROM node:(?!24-)/m, 'every stage is on Node.js 24');
});

test('npm run sbom writes CycloneDX JSON listing exactly the production packages of the lockfile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-sbom-'));
  try {
    const file = path.join(dir, 'sbom.cdx.json');
    const run = spawnSync('npm', ['run', '--silent', 'sbom', '--', file], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(run.status, 0, `npm run sbom failed:\n${run.stdout}${run.stderr}`);
    const bom = readJson<CycloneDx>(file);
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.match(bom.specVersion, /^1\.\d+$/);
    assert.equal(bom.metadata.component.name, 'ingest');
    assert.equal(bom.metadata.component.type, 'application');

    const { production, development } = lockPackages();
    const listed = bom.components.map((c) => `${c.name}@${c.version}`).sort();
    assert.deepEqual(listed, production, 'components = the lockfile packages that are not dev-only');
    for (const c of bom.components) assert.equal(c.purl, `pkg:npm/${c.name.replace('@', '%40')}@${c.version}`);
    const dev = new Set(development);
    for (const c of listed) assert.ok(!dev.has(c), `${c} is a dev-only package`);
    // A dev dependency is listed only where a production package needs it too (jwks-rsa brings @types/jsonwebtoken).
    const reachedInProduction = new Set(production.map((p) => p.slice(0, p.lastIndexOf('@'))));
    for (const name of Object.keys(pkg.devDependencies)) {
      const listedAsProduction = bom.components.some((c) => c.name === name);
      assert.equal(
        listedAsProduction,
        reachedInProduction.has(name),
        `dev dependency ${name} is listed only if needed`,
      );
    }

    const root = bom.dependencies.find((d) => d.ref === bom.metadata.component['bom-ref']);
    const direct = (root?.dependsOn ?? []).map((ref) => ref.slice(0, ref.lastIndexOf('@'))).sort();
    assert.deepEqual(direct, dependencies, 'the service depends directly on its package.json dependencies');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
