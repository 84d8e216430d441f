/**
 * The real service under chaos: the built primary (`node dist/src/primary/main.js`,
 * what `npm start` runs) with WORKERS workers, as test/support/cluster.ts
 * starts it for the end-to-end tests, but owned by the run instead of a test.
 * Its whole log goes to a file (a long run logs a lot); the lines that matter
 * to the run are kept: readiness, and every warning and error counted by
 * message, so the report can say what the service itself noticed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { PRIMARY_MAIN } from '../support/cluster';
import { REPO_ROOT } from '../support/repo-root';

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 120_000;
/** pino writes levels as labels here (the service's logger formats them); numbers are pino's default. */
const PROBLEM_LEVEL = /"level":("(warn|error|fatal)"|[456]0)[,}]/;

export interface ServiceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<ServiceExit> | undefined;
  private log: WriteStream | undefined;
  private ready = false;
  private readyWaiter: (() => void) | undefined;
  private pending = '';
  /** Warnings and errors the service logged, by level and message. */
  readonly problems = new Map<string, number>();
  readonly stderr: string[] = [];

  constructor(
    private readonly env: Record<string, string>,
    readonly logPath: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the primary and resolves once it logs "all workers ready". */
  async start(): Promise<void> {
    this.log = createWriteStream(this.logPath);
    const child = spawn(process.execPath, [PRIMARY_MAIN], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', METRICS_HOST: '127.0.0.1', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr.push(chunk);
      this.log?.write(chunk);
    });
    const ready = new Promise<void>((resolve) => (this.readyWaiter = resolve));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      this.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      throw new Error(`the service did not become ready (${outcome}); stderr: ${this.stderr.join('').slice(-2000)}`);
    }
  }

  /** Pids of the primary's children (its workers) right now, from /proc. */
  workerPids(): number[] {
    const pid = this.child?.pid;
    if (pid === undefined) return [];
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((p) => p.length > 0)
        .map(Number);
    } catch {
      return [];
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** SIGTERM, the documented graceful stop; SIGKILL if it overruns. Resolves with the primary's exit. */
  async stop(): Promise<ServiceExit | undefined> {
    const child = this.child;
    if (!child || !this.exited) return undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const exit = await this.exited;
    clearTimeout(timer);
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    return exit;
  }

  private onStdout(chunk: string): void {
    this.log?.write(chunk);
    this.pending += chunk;
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
  }

  private onLine(line: string): void {
    // Parse only what can matter: a long run logs thousands of stream lines.
    const primaryReady = !this.ready && line.includes('all workers ready');
    const problem = PROBLEM_LEVEL.exec(line);
    if (!primaryReady && !problem) return;
    let entry: { msg?: string; role?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (primaryReady && entry.role === 'primary' && entry.msg === 'all workers ready') {
      this.ready = true;
      this.readyWaiter?.();
    }
    if (problem) {
      const level = problem[2] ?? (problem[1] === '40' ? 'warn' : 'error');
      const key = `${level} ${entry.role ?? '?'}: ${entry.msg ?? ''}`;
      this.problems.set(key, (this.problems.get(key) ?? 0) + 1);
    }
  }
}
