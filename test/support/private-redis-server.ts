/**
 * A redis-server of a test's own, on a free port with its own temporary
 * directory, for tests that break the server itself (a failing background
 * save, SCRIPT FLUSH, a restart) and must not disturb the shared Redis on 6379.
 * Stopped, and its directory removed, after the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import Redis from 'ioredis';
import { freePort } from './free-port';
import { quitClient, REDIS_HOST } from './redis';

export interface PrivateRedisServer {
  readonly port: number;
  readonly url: string;
  /** The server's temporary directory (its initial `dir`); removed after the test. */
  readonly dir: string;
  /** A plain client for inspecting and reconfiguring the server. */
  readonly admin: Redis;
  /** Stops the server (SIGKILL: nothing is saved) and waits for its exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory, after kill(). */
  restart(): Promise<void>;
}

/** Starts redis-server with `args` added to a bare configuration (no save points, no AOF). */
export async function startPrivateRedis(t: TestContext, args: readonly string[] = []): Promise<PrivateRedisServer> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-redis-'));
  let child: ChildProcess | undefined;
  const admin = new Redis({ host: REDIS_HOST, port, maxRetriesPerRequest: 1, lazyConnect: true });
  const launch = async (): Promise<void> => {
    const argv = ['--bind', REDIS_HOST, '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no'];
    const started = spawn('redis-server', [...argv, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    started.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    started.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`redis-server on port ${port} exited (${code}) before it was ready:\n${output}`));
      started.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`)));
      started.once('exit', onExit);
      const onData = (): void => {
        if (!output.includes('Ready to accept connections')) return;
        started.off('exit', onExit);
        started.stdout.off('data', onData);
        resolve();
      };
      started.stdout.on('data', onData);
    });
  };
  const kill = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  t.after(async () => {
    if (admin.status === 'wait') admin.disconnect();
    else await quitClient(admin);
    await kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await launch();
  await admin.connect();
  return { port, url: `redis://${REDIS_HOST}:${port}`, dir, admin, kill, restart: launch };
}
