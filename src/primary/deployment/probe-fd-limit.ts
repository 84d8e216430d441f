/**
 * validate:deployment's file-descriptor check: `probe-fd-limit.js <ulimit -Hn>`.
 *
 * The arithmetic (docs/operations.md, "Before starting: validate the deployment"):
 * - Node.js raises its soft RLIMIT_NOFILE to the hard one at start, so the hard
 *   limit (`ulimit -Hn`, systemd's LimitNOFILE, docker's --ulimit nofile) is the one that counts.
 * - The limit is per process, and every worker is a process: a worker holds one
 *   descriptor per stream, at most MAX_CONNECTIONS_PER_WORKER, plus RESERVE_FDS.
 * - The primary handles no streams: with node:cluster's round-robin (Linux's
 *   default) it accepts each connection and passes it on at once, and otherwise
 *   keeps a few descriptors per worker (its IPC channel).
 * - WORKERS multiplies the total the host must allow (fs.file-max), not the
 *   per-process limit.
 */
import fs from 'node:fs';
import type { Config } from '../../shared/config/config-schema';
import { configuredOr, runProbe, type Verdict } from './verdict';

/**
 * Descriptors a process needs besides its streams: Node.js's own (stdio,
 * epoll, libuv's event fds), the IPC channel, the backend connections, and
 * sockets being refused (429, 503) or still in their handshake, which no
 * MAX_CONNECTIONS_* setting counts and a reconnect storm multiplies.
 */
export const RESERVE_FDS = 1024;
/** The primary's descriptors per worker: the IPC channel, with room to spare. */
export const PRIMARY_FDS_PER_WORKER = 4;

/** The hard limit a deployment with this configuration needs, per process. */
export function neededFds(config: Pick<Config, 'maxConnectionsPerWorker' | 'workers'>): number {
  return Math.max(config.maxConnectionsPerWorker, config.workers * PRIMARY_FDS_PER_WORKER) + RESERVE_FDS;
}

function probeFdLimit(config: Readonly<Config>, hardLimit: string): Verdict {
  const raise =
    'raise the hard limit (LimitNOFILE in the systemd unit, `ulimit -Hn`, docker run --ulimit nofile=N:N) ' +
    'or lower MAX_CONNECTIONS_PER_WORKER';
  const need = neededFds(config);
  const perWorker = config.maxConnectionsPerWorker;
  const why = `MAX_CONNECTIONS_PER_WORKER ${perWorker} + ${RESERVE_FDS} for Node.js, the backend and handshakes`;
  const hostWide = checkFileMax(config.workers * need);
  if (hostWide) return hostWide;
  if (hardLimit === 'unlimited') return { level: 'green', message: 'no file-descriptor limit (ulimit -Hn unlimited)' };
  const limit = Number(hardLimit);
  if (!Number.isSafeInteger(limit)) throw new Error(`expected the output of \`ulimit -Hn\`, got "${hardLimit}"`);
  if (perWorker === 0) {
    return {
      level: 'yellow',
      message:
        `MAX_CONNECTIONS_PER_WORKER=0 (no limit): a worker takes streams until it runs out of descriptors at ` +
        `ulimit -Hn ${limit} (about ${Math.max(0, limit - RESERVE_FDS)} streams), then fails accepts; set a limit`,
    };
  }
  if (limit < need) {
    return { level: 'red', message: `ulimit -Hn is ${limit}, below the ${need} a worker needs (${why}): ${raise}` };
  }
  return { level: 'green', message: `ulimit -Hn ${limit} covers the ${need} a worker needs (${why})` };
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
