/**
 * `npm run build`'s own checks, in a temporary copy of the repository with no
 * dist/ (a fresh clone): prebuild reports the environment with the service's
 * validation and never fails the build; postbuild fails it, naming each missing
 * entry point and where it is named. One build (tsc is the slow part), of a
 * copy without the worker's source; more files are then removed from its
 * output and only postbuild runs again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ENTRY_POINT_LIST, listedEntryPoints } from '../support/entry-points';
import { REPO_ROOT } from '../support/repo-root';

interface PackageJson {
  main: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
const listed = listedEntryPoints();

/** The repository as a clone has it, without dist/; node_modules shared (the build writes nothing there). */
function copyRepository(dir: string): void {
  for (const entry of ['src', 'packages', 'bench', 'test', 'ops', 'package.json', 'tsconfig.json']) {
    fs.cpSync(path.join(REPO_ROOT, entry), path.join(dir, entry), {
      recursive: true,
      // Kafka's jars (ops/dev/kafka/target) are for running a broker, and packages/*/dist is built output.
      filter: (source) =>
        !source.includes(`${path.sep}kafka${path.sep}target`) && !/packages[\\/][^\\/]+[\\/]dist$/.test(source),
    });
  }
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
}

function npmRun(dir: string, script: string, env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  // The npm that runs the tests (npm test), else the one on PATH.
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
  const run = spawnSync(npm[0], [...npm.slice(1), 'run', script], { cwd: dir, env, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test('the entry-point list holds paths under dist/, with the primary, the worker and the probe', () => {
  for (const file of listed) assert.match(file, /^dist\/\S+\.js$/, file);
  for (const file of [pkg.main, 'dist/src/worker/main.js', 'dist/src/primary/health-probe.js']) {
    assert.ok(listed.includes(file), `${file} is in ${ENTRY_POINT_LIST}`);
  }
});

test('npm run build on a fresh copy without the worker source: a bad environment is reported, the build fails', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-build-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  copyRepository(dir);
  assert.ok(!fs.existsSync(path.join(dir, 'dist')), 'nothing built yet');
  // Nothing imports the worker's entry (the primary forks it by path), so tsc succeeds without it:
  // only postbuild can notice. (A good build passing postbuild is every `npm test`'s own build.)
  fs.rmSync(path.join(dir, 'src', 'worker', 'main.ts'));

  const env = { ...process.env, NODE_ENV: 'production', PORT: '70000', NO_COLOR: '1' };
  const build = npmRun(dir, 'build', env);
  // The report is the service's own (config-report.ts), so an invalid environment reads as validate:env reads it.
  assert.match(build.output, /^configuration invalid: \d+ problems?$/m);
  assert.match(build.output, /^ {2}PORT: got "70000", expected an integer from 1 to 65535$/m);
  assert.match(build.output, /^ {2}REDIS_URL: got "" \(not set\)/m);
  assert.match(build.output, /the service would not start with it; the build goes on/);
  assert.ok(fs.existsSync(path.join(dir, pkg.main)), 'tsc built the rest');
  assert.notEqual(build.status, 0, build.output);
  assert.match(build.output, /postbuild: the build is missing 1 entry point\(s\):/);
  assert.ok(build.output.includes(`  dist/src/worker/main.js (named in ${ENTRY_POINT_LIST})\n`), build.output);

  // The other places an entry point is named: a bin entry and a script's file, removed from the output.
  const removed = {
    // A bin entry the list also holds is named where the list names it.
    [pkg.bin['ingest-client']]: listed.includes(pkg.bin['ingest-client'])
      ? ENTRY_POINT_LIST
      : 'package.json bin ingest-client',
    'dist/bench/bench-run.js': 'package.json script bench',
  };
  for (const file of Object.keys(removed)) fs.rmSync(path.join(dir, file));
  const check = npmRun(dir, 'postbuild', env);
  assert.notEqual(check.status, 0, check.output);
  assert.match(check.output, /postbuild: the build is missing 3 entry point\(s\):/);
  for (const [file, where] of Object.entries(removed)) {
    assert.ok(check.output.includes(`  ${file} (named in ${where})\n`), `names ${file}:\n${check.output}`);
  }
});
