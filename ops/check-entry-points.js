#!/usr/bin/env node
'use strict';
// `npm run build`'s postbuild step: fails the build, naming each file, when an
// entry point is missing from dist/. tsc succeeds without emitting a file whose
// source was deleted or renamed, and nothing else would notice until the
// service (or a worker fork, or a CLI) fails to start on a host.
//
// The entry points, each named in one place: ops/entry-points.txt (what a
// deployed host runs: the primary, the worker the primary forks, the CLIs, the
// container's health probe, the deployment probes), package.json `bin`, and
// the `node dist/….js` files package.json's scripts run.
const fs = require('node:fs');
const path = require('node:path');

/** The list of what a deployed host runs, relative to the repository root. */
const LIST_FILE = 'ops/entry-points.txt';

/** The paths LIST_FILE holds, one a line; blank lines and `#` comments left out (read here only; the tests use this too). */
function listedEntryPoints(root) {
  return fs
    .readFileSync(path.join(root, LIST_FILE), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Every entry point as [path relative to root, where it is named]; each path once. */
function entryPoints(root) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const named = new Map();
  const add = (file, where) => {
    const normal = path.posix.normalize(file);
    if (!named.has(normal)) named.set(normal, where);
  };
  for (const file of listedEntryPoints(root)) add(file, LIST_FILE);
  for (const [name, file] of Object.entries(pkg.bin ?? {})) add(file, `package.json bin ${name}`);
  for (const [name, command] of Object.entries(pkg.scripts ?? {})) {
    for (const [, file] of command.matchAll(/\bnode (dist\/\S+\.js)\b/g)) add(file, `package.json script ${name}`);
  }
  return [...named];
}

/** Those of `named` (default: every entry point) not present as files under root. */
function missingEntryPoints(root, named = entryPoints(root)) {
  return named.filter(([file]) => !isFile(path.join(root, file)));
}

function isFile(file) {
  return fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true;
}

function main(args) {
  const root = path.resolve(__dirname, '..');
  // --listed-only: the Docker build, which compiles src/ alone (no bench/ or test/ that scripts name).
  const named = args.includes('--listed-only') ? listedEntryPoints(root).map((f) => [f, LIST_FILE]) : entryPoints(root);
  const missing = missingEntryPoints(root, named);
  if (missing.length === 0) {
    process.stdout.write(`postbuild: all ${named.length} entry points built\n`);
    return;
  }
  process.stderr.write(`postbuild: the build is missing ${missing.length} entry point(s):\n`);
  for (const [file, where] of missing) process.stderr.write(`  ${file} (named in ${where})\n`);
  process.exitCode = 1;
}

module.exports = { LIST_FILE, listedEntryPoints, entryPoints, missingEntryPoints };

if (require.main === module) main(process.argv.slice(2));
