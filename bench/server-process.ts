/**
 * One variant's server as a process of its own, started for one
 * measurement and stopped after it, so that its process tree holds that
 * server and nothing else: the reference servers (dist/bench/reference/),
 * or the service as `npm start` runs it (node dist/src/primary/main.js) with
 * WORKERS workers, configured to carry thousands of streams from one
 * address and tenant for longer than any run. Its log goes to a file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { freePorts } from '../test/support/free-port';
import { isService, type Variant } from './variants';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;
/** Far above any run: no stream of a benchmark is ended for being idle. */
const LONG_MS = '86400000';

export interface ServerSpec {
  readonly variant: Variant;
  readonly workers: number;
  readonly publicKeyPem: string;
  readonly bufferMs: number;
  /** The redis-server of the measurement, for the variants that publish to Redis. */
  readonly redisUrl?: string;
  readonly logPath: string;
}

function entryOf(variant: Variant): string {
  if (isService(variant)) return path.join(REPO_ROOT, 'dist', 'src', 'primary', 'main.js');
  const file = variant === 'floor' ? 'floor-server.js' : 'pipeline-server.js';
  return path.join(REPO_ROOT, 'dist', 'bench', 'reference', file);
}

/**
 * BENCH_SERVER_NODE_OPTIONS, for profiling the server under the benchmark's
 * load (docs/benchmarks.md, "Profiling"). They go on the command line, not in
 * NODE_OPTIONS, which refuses V8's flags such as --trace-gc; the service's
 * workers inherit the primary's flags.
 */
export function serverNodeFlags(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter((flag) => flag !== '');
}

function envOf(spec: ServerSpec, port: number, metricsPort: number): Record<string, string> {
  const common = {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    PORT: String(port),
    JWT_PUBLIC_KEY: spec.publicKeyPem,
    BUFFER_DURATION_MS: String(spec.bufferMs),
    REDIS_URL: spec.redisUrl ?? '',
  };
  if (!isService(spec.variant)) return common;
  return {
    ...common,
    WORKERS: String(spec.workers),
    PUBSUB_ADAPTER: spec.variant === 'in_memory' ? 'in_memory' : 'redis_streams',
    REDIS_DEDUPLICATE: String(spec.variant !== 'redis_xadd'),
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: '127.0.0.1',
    MAX_CONNECTIONS_PER_WORKER: '0',
    MAX_CONNECTIONS_PER_TENANT: '0',
    MAX_CONNECTIONS_PER_IP: '0',
    IDLE_TIMEOUT_MS: LONG_MS,
    START_TIMEOUT_MS: '60000',
  };
}

export class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private log: WriteStream | undefined;
  port = 0;

  constructor(private readonly spec: ServerSpec) {}

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  /** Spawns the server and resolves once it says it is ready (`listening <port>`, or "all workers ready"). */
  async start(): Promise<void> {
    const [port, metricsPort] = await freePorts(2);
    this.port = port;
    const log = createWriteStream(this.spec.logPath);
    this.log = log;
    const child = spawn(
      process.execPath,
      [...serverNodeFlags(process.env.BENCH_SERVER_NODE_OPTIONS), entryOf(this.spec.variant)],
      {
        cwd: REPO_ROOT,
        env: envOf(this.spec, port, metricsPort),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    child.stderr?.pipe(log, { end: false });
    let seen = '';
    const ready = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer): void => {
        seen = (seen + chunk.toString('utf8')).slice(-4096);
        if (!/^listening \d+$|"msg":"all workers ready"/m.test(seen)) return;
        child.stdout?.off('data', onData);
        resolve();
      };
      child.stdout?.on('data', onData);
    });
    child.stdout?.pipe(log, { end: false });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready'),
      this.exited.then(() => 'exited'),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timed out'), READY_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      await this.close();
      throw new Error(`${this.spec.variant} server did not become ready (${outcome}); its log: ${this.spec.logPath}`);
    }
  }

  /** Adds a line of the benchmark's own to the server's log (the window's edges, for profiles). */
  note(line: string): void {
    this.log?.write(`${line}\n`);
  }

  /** SIGTERM (the graceful stop), SIGKILL if it overruns; idempotent. */
  async close(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise<void>((resolve) => log.end(resolve));
  }
}
