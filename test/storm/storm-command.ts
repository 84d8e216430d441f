/**
 * `npm run storm -- --streams 2000`: the reconnect storm test at the size the
 * documentation quotes (the suite runs it with 300 streams to fit 2 cores).
 * It runs the same test file through test/run-tests.js, which starts Redis
 * when it is absent, with STORM_STREAMS set; the test prints the figures.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../support/repo-root';

function streamsArgument(argv: readonly string[]): number {
  const at = argv.indexOf('--streams');
  const value = at >= 0 ? argv[at + 1] : '2000';
  const streams = Number(value);
  if (!Number.isSafeInteger(streams) || streams < 1)
    throw new Error(`--streams must be a positive integer, got "${value}"`);
  return streams;
}

const streams = streamsArgument(process.argv.slice(2));
const child = spawn(process.execPath, [path.join(REPO_ROOT, 'test', 'run-tests.js'), 'storm/reconnect-storm'], {
  cwd: REPO_ROOT,
  stdio: 'inherit',
  env: { ...process.env, STORM_STREAMS: String(streams) },
});
child.on('exit', (code, signal) => (process.exitCode = code ?? (signal ? 1 : 0)));
