/**
 * `npm run storm -- --streams 2000 [--pace-ms 1000]`: the reconnect storm test
 * at the size the documentation quotes (the suite runs it with 300 streams to
 * fit 2 cores). It runs the same test file through test/run-tests.js, which
 * starts Redis when it is absent, with STORM_STREAMS (and STORM_PACE_MS: one
 * batch of ACK_INTERVAL frames per stream per that many ms) set; the test
 * prints the figures.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../support/repo-root';

function positiveArgument(argv: readonly string[], name: string, fallback: number): number {
  const at = argv.indexOf(name);
  const value = at >= 0 ? argv[at + 1] : String(fallback);
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new Error(`${name} must be a positive integer, got "${value}"`);
  return number;
}

const argv = process.argv.slice(2);
const streams = positiveArgument(argv, '--streams', 2000);
const paceMs = positiveArgument(argv, '--pace-ms', 1000);
const child = spawn(process.execPath, [path.join(REPO_ROOT, 'test', 'run-tests.js'), 'storm/reconnect-storm'], {
  cwd: REPO_ROOT,
  stdio: 'inherit',
  env: { ...process.env, STORM_STREAMS: String(streams), STORM_PACE_MS: String(paceMs) },
});
child.on('exit', (code, signal) => (process.exitCode = code ?? (signal ? 1 : 0)));
