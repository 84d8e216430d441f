/**
 * A private redis-server for one chaos run: its own port and a temporary data
 * directory, `appendonly yes` and `appendfsync always`, so that what Redis
 * confirmed is on disk before the reply and survives SIGKILL. A restart is
 * SIGKILL, then the same command line again (same port, same dir: Redis
 * replays its AOF). The service reaches it through a TcpProxy, which the
 * fault injector stalls and cuts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import type { FieldMap } from '../support/field-map';
import { freePort } from '../support/free-port';
import type { ChaosBackend } from './chaos-backend';
import { TcpProxy } from './tcp-proxy';

const HOST = '127.0.0.1';
const READ_PAGE = 200;
const START_TIMEOUT_MS = 30_000;

export class RedisBackend implements ChaosBackend {
  readonly kind = 'redis_streams';
  proxy: TcpProxy | undefined;
  private port = 0;
  private dir = '';
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(private readonly streamKey: string) {}

  async start(): Promise<void> {
    this.dir = await mkdtemp(path.join(os.tmpdir(), 'chaos-redis-'));
    this.port = await freePort();
    await this.launch();
    this.proxy = new TcpProxy(this.port);
    await this.proxy.start();
  }

  serviceEnv(): Record<string, string> {
    if (!this.proxy) throw new Error('redis backend not started');
    return {
      PUBSUB_ADAPTER: 'redis_streams',
      REDIS_URL: `redis://${HOST}:${this.proxy.port}`,
      REDIS_STREAM_KEY: this.streamKey,
    };
  }

  /** Resolves with how long Redis took from its new start to answering (replaying its AOF), in ms. */
  async restart(downMs: number): Promise<number> {
    await this.kill();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    const started = performance.now();
    await this.launch();
    return performance.now() - started;
  }

  async readAll(onRecord: (record: FieldMap) => void): Promise<number> {
    const redis = new Redis({ host: HOST, port: this.port, maxRetriesPerRequest: 3, lazyConnect: true });
    redis.on('error', () => undefined); // a failing command rejects, which is what the caller sees
    await redis.connect();
    let count = 0;
    try {
      let from = '-';
      for (;;) {
        const page = await redis.xrangeBuffer(this.streamKey, from, '+', 'COUNT', READ_PAGE);
        for (const [id, flat] of page) {
          const record: FieldMap = new Map();
          for (let i = 0; i < flat.length; i += 2) record.set(flat[i].toString('utf8'), flat[i + 1]);
          onRecord(record);
          count++;
          from = `(${id.toString('utf8')}`;
        }
        if (page.length < READ_PAGE) return count;
      }
    } finally {
      await redis.quit().catch(() => redis.disconnect());
    }
  }

  async close(): Promise<void> {
    await this.proxy?.close();
    this.proxy = undefined;
    await this.kill();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = '';
  }

  private async launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--bind',
        HOST,
        '--port',
        String(this.port),
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--protected-mode',
        'no',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const failed = new Promise<never>((_, reject) =>
      child.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`))),
    );
    await Promise.race([this.waitUntilLoaded(), failed]);
  }

  /** Answers PING and has finished replaying its AOF (a loading Redis answers LOADING). */
  private async waitUntilLoaded(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const redis = new Redis({
        host: HOST,
        port: this.port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      redis.on('error', () => undefined); // a refused probe is expected while Redis starts; the loop retries
      try {
        await redis.connect();
        await redis.exists('chaos:probe');
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        redis.disconnect();
      }
    }
    throw new Error(`redis-server on port ${this.port} not ready within ${START_TIMEOUT_MS} ms`);
  }

  private async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.exited;
  }
}
