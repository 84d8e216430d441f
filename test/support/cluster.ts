/**
 * Runs the built service the way a user does (`node dist/src/primary/main.js`,
 * what `npm start` runs) and lets tests read its log lines, wait for events in
 * them, send signals and collect the exit code. Never waits on wall-clock luck:
 * every wait is for a log line or an exit, bounded by a generous deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './free-port';
import { REPO_ROOT } from './repo-root';

export const PRIMARY_MAIN = path.join(REPO_ROOT, 'dist', 'src', 'primary', 'main.js');

export interface RunningCluster {
  readonly metricsPort: number;
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly stderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log entry matching `predicate` (past or future). */
  waitForLog(
    predicate: (entry: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  logs(): Array<Record<string, unknown>>;
}

/** Pids of the workers the primary reported ready, in order (its own lines, so in its own order). */
export function readyWorkerPids(cluster: RunningCluster): number[] {
  return cluster
    .logs()
    .filter((e) => e.role === 'primary' && e.msg === 'worker ready')
    .map((e) => e.worker_pid as number);
}

/**
 * SIGKILLs a whole instance, as `systemctl kill -s KILL` or a lost VM would:
 * the workers first, then the primary, so that no worker sees its primary go
 * and shuts down gracefully (1001) before its own SIGKILL lands. A worker
 * already gone (replaced earlier, ESRCH) is skipped.
 */
export function killInstance(cluster: RunningCluster): void {
  for (const pid of readyWorkerPids(cluster)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  cluster.child.kill('SIGKILL');
}

/**
 * Spawns the primary. METRICS_PORT gets a free port unless the test sets one,
 * so clusters of concurrent tests never collide on the default 9464.
 */
export async function startCluster(
  t: TestContext,
  env: Record<string, string>,
  script = PRIMARY_MAIN,
): Promise<RunningCluster> {
  const metricsPort = env.METRICS_PORT ?? String(await freePort());
  const child = spawn(process.execPath, [script], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      METRICS_PORT: metricsPort,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts.filter((p) => p.length > 0));
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    notify();
  });
  let done = false;
  // A process that could not be spawned emits 'error' (and maybe no 'close'): say so instead of timing out.
  child.once('error', (err) => {
    stderr.push(`spawning the cluster failed: ${err.message}`);
    notify();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      if (pending) lines.push(pending);
      done = true;
      resolve({ code, signal });
      notify();
    });
  });
  t.after(async () => {
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const parse = (): Array<Record<string, unknown>> =>
    lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return {
    metricsPort: Number(metricsPort),
    child,
    lines,
    stderr,
    exited,
    logs: parse,
    waitForLog(predicate, what, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = parse().find(predicate);
          if (found) {
            finish();
            resolve(found);
            return true;
          }
          if (done) {
            finish();
            reject(new Error(`cluster exited before ${what}; stderr: ${stderr.join('')}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(`timed out waiting for ${what}; last lines:\n${lines.slice(-10).join('\n')}\n${stderr.join('')}`),
          );
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        const listener = (): void => void check();
        if (check()) return;
        listeners.add(listener);
      });
    },
  };
}
