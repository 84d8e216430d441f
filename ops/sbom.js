#!/usr/bin/env node
'use strict';
// `npm run sbom [-- FILE]`: a CycloneDX JSON SBOM of what the running service
// loads, the production dependencies (package.json `dependencies`) and all that
// they depend on, as installed (`npm ci` first), written to FILE (default
// sbom.cdx.json at the repository root). docs/operations.md says how to scan it.
//
// npm's own `npm sbom` writes it. Its --omit=dev is not used: it drops every
// package that a dev dependency uses too, even when a production dependency
// needs it (npm/cli#7909; here debug, ms and semver, under ioredis and
// jsonwebtoken). So the SBOM of the whole installed tree is pruned to what the
// production dependencies reach in its own dependency graph.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const output = path.resolve(process.argv[2] ?? path.join(root, 'sbom.cdx.json'));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const production = new Set(Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }));

// The npm that runs this script (`npm run sbom`), else the one on PATH.
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
const args = [...npm.slice(1), 'sbom', '--sbom-format=cyclonedx', '--sbom-type=application'];
const bom = JSON.parse(execFileSync(npm[0], args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 }));

const rootRef = bom.metadata.component['bom-ref'];
const byRef = new Map(bom.components.map((c) => [c['bom-ref'], c]));
const dependsOn = new Map(bom.dependencies.map((d) => [d.ref, d.dependsOn ?? []]));
const direct = (dependsOn.get(rootRef) ?? []).filter((ref) => production.has(byRef.get(ref)?.name));
const missing = [...production].filter((name) => !direct.some((ref) => byRef.get(ref).name === name));
if (missing.length > 0) throw new Error(`not installed: ${missing.join(', ')} (run npm ci first)`);

const reached = new Set();
const queue = [...direct];
while (queue.length > 0) {
  const ref = queue.pop();
  if (reached.has(ref)) continue;
  reached.add(ref);
  queue.push(...(dependsOn.get(ref) ?? []));
}

// npm names the root component after the folder it sits in; its bom-ref and purl already say `ingest`.
bom.metadata.component.name = pkg.name;
bom.components = bom.components.filter((c) => reached.has(c['bom-ref']));
bom.dependencies = bom.dependencies
  .filter((d) => d.ref === rootRef || reached.has(d.ref))
  .map((d) => (d.ref === rootRef ? { ...d, dependsOn: direct } : d));
fs.writeFileSync(output, `${JSON.stringify(bom, null, 2)}\n`);
console.error(
  `${path.relative(process.cwd(), output) || output}: CycloneDX ${bom.specVersion}, ` +
    `${bom.components.length} components (${direct.length} direct production dependencies)`,
);
