/**
 * The Dockerfile's runtime stage, checked point by point: no Docker engine runs
 * on the test machines, and hadolint is packaged neither by Debian nor by npm.
 * The container's health check probes /health with node, within a timeout the
 * probe itself respects; the image runs as a non-root user, with the primary as
 * PID 1 (exec form); the probe is among the files the image gets.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PROBE_TIMEOUT_MS } from '../../src/primary/health-probe';
import { ENTRY_POINT_LIST, listedEntryPoints } from '../support/entry-points';
import { REPO_ROOT } from '../support/repo-root';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The instructions of a Dockerfile: comments dropped, continuation lines joined, keywords upper-cased. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole === '') continue;
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(whole) ?? [];
    instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return instructions;
}

/** The instructions of the last stage, the one the image is. */
function runtimeStage(instructions: Instruction[]): Instruction[] {
  const from = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  return instructions.slice(from);
}

/** An exec-form (JSON array) command, or undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const argv: unknown = JSON.parse(args);
  assert.ok(Array.isArray(argv) && argv.every((a) => typeof a === 'string'), `an array of strings: ${args}`);
  return argv;
}

/** A Docker duration (`30s`, `1m30s`, `500ms`) in milliseconds. */
function durationMs(text: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  assert.equal(parts.map((p) => p[0]).join(''), text, `a duration: ${text}`);
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u], 0);
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')) as T;
const stage = runtimeStage(parseDockerfile(fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')));
const pkg = readJson<{ main: string }>('package.json');
const entryPoints = listedEntryPoints();
const one = (keyword: string): Instruction => {
  const found = stage.filter((i) => i.keyword === keyword);
  assert.equal(found.length, 1, `one ${keyword} in the runtime stage`);
  return found[0];
};

test('the parser reads continuation lines, comments and both command forms', () => {
  const parsed = parseDockerfile('FROM a AS b\n# note\nrun x \\\n  y\nCMD ["node", "m.js"]\n');
  assert.deepEqual(parsed, [
    { keyword: 'FROM', args: 'a AS b' },
    { keyword: 'RUN', args: 'x    y' },
    { keyword: 'CMD', args: '["node", "m.js"]' },
  ]);
  assert.deepEqual(execForm('["node", "m.js"]'), ['node', 'm.js']);
  assert.equal(execForm('node m.js'), undefined);
  assert.equal(durationMs('1m30s'), 90_000);
  assert.throws(() => durationMs('30'));
});

test("HEALTHCHECK: interval, timeout above the probe's own, retries, start period", () => {
  const { args } = one('HEALTHCHECK');
  const options = Object.fromEntries([...args.matchAll(/--([a-z-]+)=(\S+)/g)].map(([, k, v]) => [k, v]));
  for (const option of ['interval', 'timeout', 'retries', 'start-period']) assert.ok(option in options, option);
  assert.ok(durationMs(options.interval) >= 5_000, 'not more often than every 5 s');
  // The probe gives up first and says why; Docker's own timeout would only say it killed it.
  assert.ok(durationMs(options.timeout) > PROBE_TIMEOUT_MS, `--timeout above PROBE_TIMEOUT_MS ${PROBE_TIMEOUT_MS}`);
  assert.ok(durationMs(options.timeout) < durationMs(options.interval), 'a probe ends before the next starts');
  assert.ok(Number(options.retries) >= 2, 'one slow answer does not make the container unhealthy');
  assert.ok(durationMs(options['start-period']) >= 10_000, 'covers the default BACKEND_CONNECT_TIMEOUT_MS');
});

test('HEALTHCHECK runs the compiled health probe with node itself (no curl in the slim image)', () => {
  const command = /\bCMD\s+(.*)$/.exec(one('HEALTHCHECK').args)?.[1] ?? '';
  const argv = execForm(command);
  assert.ok(argv, `exec form: ${command}`);
  assert.equal(argv[0], 'node');
  assert.equal(argv[1], 'dist/src/primary/health-probe.js');
  assert.ok(entryPoints.includes(argv[1]), `the probe is an entry point the build checks (${ENTRY_POINT_LIST})`);
  assert.ok(fs.existsSync(path.join(REPO_ROOT, argv[1])), `${argv[1]} is built`);
});

/** What a COPY puts where: each source's path in the image (a destination ending in / or . receives them by name). */
function copiedPaths(workdir: string, args: string): string[] {
  const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
  const dest = words.pop() ?? '';
  const into = dest.endsWith('/') || dest === '.';
  return words.map((src) => path.posix.resolve(workdir, into ? path.posix.join(dest, path.posix.basename(src)) : dest));
}

test('the probe and the primary are among the files copied into the image, compiled from src/', () => {
  const all = parseDockerfile(fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const buildFrom = all.findIndex((i) => i.keyword === 'FROM' && /\bAS build$/i.test(i.args));
  const build = all.slice(
    buildFrom,
    all.findIndex((i, n) => n > buildFrom && i.keyword === 'FROM'),
  );
  assert.ok(
    build.some((i) => i.keyword === 'COPY' && /^src\s/.test(i.args)),
    'the build stage copies src/',
  );
  const compile = build.findIndex((i) => i.keyword === 'RUN' && /\btsc\b/.test(i.args));
  assert.ok(compile >= 0, 'the build stage compiles it');
  // The image's build runs tsc, not `npm run build`, so postbuild's check of the entry points runs here itself.
  const check = build.findIndex(
    (i) => i.keyword === 'RUN' && /node ops\/check-entry-points\.js --listed-only/.test(i.args),
  );
  assert.ok(check > compile, 'the build stage checks the listed entry points after compiling');
  assert.ok(
    build.some(
      (i) => i.keyword === 'COPY' && i.args.includes('ops/check-entry-points.js') && i.args.includes(ENTRY_POINT_LIST),
    ),
    'with the checker and the list copied in',
  );
  const ignore = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const file of ['ops/check-entry-points.js', ENTRY_POINT_LIST]) {
    assert.ok(ignore.includes(`!${file}`), `.dockerignore lets ${file} into the build context`);
  }
  const workdir = one('WORKDIR').args;
  const copied = stage.filter((i) => i.keyword === 'COPY').flatMap((i) => copiedPaths(workdir, i.args));
  assert.ok(
    copied.includes(path.posix.resolve(workdir, 'dist/src')),
    `dist/src comes from the build stage: ${copied.join(', ')}`,
  );
  for (const file of ['dist/src/primary/health-probe.js', pkg.main]) {
    const inImage = path.posix.resolve(workdir, file);
    assert.ok(
      copied.some((dest) => inImage === dest || inImage.startsWith(`${dest}/`)),
      `${file} lies under a copied path (${copied.join(', ')})`,
    );
  }
});

test('the image runs as a non-root user', () => {
  const users = stage.filter((i) => i.keyword === 'USER');
  assert.ok(users.length > 0, 'the runtime stage sets USER');
  const user = users.at(-1)?.args.split(':')[0] ?? '';
  assert.ok(!['root', '0', ''].includes(user), `USER ${user}`);
  const cmdAt = stage.findIndex((i) => i.keyword === 'CMD');
  assert.ok(stage.indexOf(users.at(-1) as Instruction) < cmdAt, 'USER comes before CMD');
});

test('the primary is PID 1: exec-form CMD running package.json main with node, no shell or ENTRYPOINT', () => {
  assert.deepEqual(execForm(one('CMD').args), ['node', pkg.main]);
  assert.ok(!stage.some((i) => i.keyword === 'ENTRYPOINT'), 'no ENTRYPOINT wraps the CMD');
  assert.equal(one('STOPSIGNAL').args, 'SIGTERM', 'the signal the primary drains on');
});
