/**
 * The service's development setup for `npm run demo`: the built primary
 * (dist/src/primary/main.js, what `npm start` runs) with the caller's
 * environment. Without a JWT key outside production the primary makes a
 * throwaway key pair and logs one token (src/primary/dev-credentials.ts); that
 * log line is how the token reaches the demo, since nothing else can mint one.
 * Its log lines go on to `out`, unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { loadConfig } from '../../shared/config/config';
import { ROUTES } from '../../shared/routes';

const PRIMARY_MAIN = path.resolve(__dirname, '..', '..', 'primary', 'main.js');
const READY_MESSAGE = 'all workers ready';
const TOKEN_FIELD = 'dev_token';

export interface DevServiceReady {
  /** The native endpoint, ws(s)://host:port/v1/ingest. */
  readonly serviceUrl: string;
  /** The development token the primary logged (valid for one hour, for this run of the primary only). */
  readonly token: string;
}

export class DevServiceError extends Error {
  constructor(
    readonly code: 'service_exited' | 'no_dev_token',
    message: string,
  ) {
    super(message);
  }
}

export class DevService {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<number | null> | undefined;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly out: Writable,
  ) {}

  /** Resolves with the exit code when the primary ends (after start()). */
  get exited(): Promise<number | null> {
    if (!this.exitedPromise) throw new Error('DevService not started');
    return this.exitedPromise;
  }

  /** Starts the primary; resolves once every worker is ready and the token was logged. */
  start(): Promise<DevServiceReady> {
    if (this.child) throw new Error('DevService already started');
    const child = spawn(process.execPath, [PRIMARY_MAIN], { env: this.env, stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    this.exitedPromise = new Promise((resolve) => child.once('close', (code, signal) => resolve(signal ? 1 : code)));
    return new Promise((resolve, reject) => {
      let token: string | undefined;
      let pending = '';
      const onLine = (line: string): void => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (typeof entry[TOKEN_FIELD] === 'string') token = entry[TOKEN_FIELD];
        if (entry.msg !== READY_MESSAGE) return;
        if (!token) {
          reject(new DevServiceError('no_dev_token', 'the service made no development token: a JWT key is configured'));
          return;
        }
        resolve({ serviceUrl: this.serviceUrl(Number(entry.port)), token });
      };
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        this.out.write(chunk);
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        lines.forEach(onLine);
      });
      child.once('error', (err) => reject(new DevServiceError('service_exited', `could not start: ${err.message}`)));
      void this.exitedPromise!.then((code) =>
        reject(new DevServiceError('service_exited', `the service exited (${code}) before it was ready`)),
      );
    });
  }

  /** SIGTERM (a graceful shutdown) and waits for the exit; idempotent. */
  async close(): Promise<void> {
    if (!this.child || !this.exitedPromise) return;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exitedPromise;
  }

  /** Where the page reaches the service: this machine, by the scheme the configuration says. */
  private serviceUrl(port: number): string {
    const result = loadConfig(this.env);
    const tls = result.ok && result.config.sslKeyPath !== '';
    const host = result.ok && !['0.0.0.0', '::', ''].includes(result.config.host) ? result.config.host : '127.0.0.1';
    return `${tls ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${port}${ROUTES.ingest}`;
  }
}
