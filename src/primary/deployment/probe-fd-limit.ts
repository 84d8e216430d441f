/**
 * validate:deployment's file-descriptor check: `probe-fd-limit.js <ulimit -Hn>`.
 *
 * - Node.js raises its soft RLIMIT_NOFILE to the hard one at start, so the hard
 *   limit (`ulimit -Hn`, systemd's LimitNOFILE, docker's --ulimit nofile) is the one that counts.
 * - The limit is per process; what a process needs is fd-budget.ts's arithmetic.
 * - WORKERS multiplies the total the host must allow (fs.file-max), not the
 *   per-process limit.
 */
import fs from 'node:fs';
import type { Config } from '../../shared/config/config-schema';
import { fdsForStreams, neededFds, RESERVE_FDS } from './fd-budget';
import { configuredOr, runProbe, type Verdict } from './verdict';

function probeFdLimit(config: Readonly<Config>, hardLimit: string): Verdict {
  const raise =
    'raise the hard limit (LimitNOFILE in the systemd unit, `ulimit -Hn`, docker run --ulimit nofile=N:N) ' +
    'or lower MAX_CONNECTIONS_PER_WORKER';
  const need = neededFds(config);
  const perWorker = config.maxConnectionsPerWorker;
  const why =
    `MAX_CONNECTIONS_PER_WORKER ${perWorker}, a tenth more for handshakes and refusals, ` +
    `${RESERVE_FDS} for Node.js and the backend`;
  const hostWide = checkFileMax(config.workers * need);
  if (hostWide) return hostWide;
  const limit = hardLimit === 'unlimited' ? Infinity : Number(hardLimit);
  if (Number.isNaN(limit)) throw new Error(`expected the output of \`ulimit -Hn\`, got "${hardLimit}"`);
  if (perWorker === 0) {
    return {
      level: 'yellow',
      message:
        `MAX_CONNECTIONS_PER_WORKER=0 (no limit): a worker takes streams until it runs out of descriptors at ` +
        `ulimit -Hn ${limit} (about ${streamsWithin(limit)} streams), then fails accepts; set a limit`,
    };
  }
  if (limit < need) {
    return { level: 'red', message: `ulimit -Hn is ${limit}, below the ${need} a worker needs (${why}): ${raise}` };
  }
  if (limit === Infinity) return { level: 'green', message: 'no file-descriptor limit (ulimit -Hn unlimited)' };
  return { level: 'green', message: `ulimit -Hn ${limit} covers the ${need} a worker needs (${why})` };
}

/** The most streams a process fits within `limit` descriptors. */
function streamsWithin(limit: number): number | string {
  if (limit === Infinity) return 'any number of';
  let streams = Math.max(0, Math.floor((limit - RESERVE_FDS) / 1.1));
  while (streams > 0 && fdsForStreams(streams) > limit) streams--;
  return streams;
}

/** The host's ceiling over all processes, where Linux says it (WORKERS × the per-process need). */
function checkFileMax(total: number): Verdict | undefined {
  let fileMax: number;
  try {
    fileMax = Number(fs.readFileSync('/proc/sys/fs/file-max', 'utf8').trim());
  } catch {
    return undefined; // not Linux: no host-wide figure to compare
  }
  if (fileMax >= total) return undefined;
  return {
    level: 'red',
    message:
      `fs.file-max is ${fileMax}, below the ${total} the workers together may hold (WORKERS × the per-worker ` +
      'need): raise it with sysctl, or lower WORKERS or MAX_CONNECTIONS_PER_WORKER',
  };
}

runProbe(() => configuredOr((config) => probeFdLimit(config, process.argv[2] ?? '')));
