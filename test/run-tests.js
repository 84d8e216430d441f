#!/usr/bin/env node
'use strict';
// Runs the whole suite: makes sure the real backends the tests need are up
// (starting what is missing, and stopping only what it started), then runs
// node:test over the compiled tests. A backend that cannot be started fails
// the run: tests never skip silently.
const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const { ensureRedis } = require('./support/backends/redis-server.js');
const { ensureKafka } = require('./support/backends/kafka-broker.js');

function findTests(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(full));
    else if (entry.name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

/** The oldest supported Node.js line (package.json engines); ops/dev/node.sh fetches 24 or 22 for older machines. */
const OLDEST_NODE = 22;

async function main() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < OLDEST_NODE) {
    throw new Error(
      `Node.js ${process.version} is not supported (${OLDEST_NODE} or later); ` +
        'get 24 first with: export PATH="$(ops/dev/node.sh 24):$PATH"',
    );
  }
  const root = path.resolve(__dirname, '..');
  const filter = process.argv.slice(2);
  const started = [];
  try {
    started.push(await ensureRedis());
    started.push(await ensureKafka());
    let files = findTests(path.join(root, 'dist', 'test'));
    if (filter.length > 0) files = files.filter((f) => filter.some((s) => f.includes(s)));
    if (files.length === 0) throw new Error('no test files found under dist/test (did the build run?)');
    const child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...files], {
      stdio: 'inherit',
      cwd: root,
      env: { ...process.env, INGEST_TEST_ROOT: root },
    });
    const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    process.exitCode = code;
  } finally {
    // Stop every backend this run started, even if stopping one fails.
    for (const stop of started.reverse()) {
      if (!stop) continue;
      try {
        await stop();
      } catch (err) {
        console.error(`stopping a test backend failed: ${err.message}`);
        process.exitCode = process.exitCode || 1;
      }
    }
  }
}

main().catch((err) => {
  console.error(`test run failed: ${err.message}`);
  process.exitCode = 1;
});
