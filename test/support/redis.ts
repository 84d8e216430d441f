/**
 * Helpers for tests against the real Redis on 127.0.0.1:6379 (test/run-tests.js
 * makes sure one answers): a key prefix of its own per test, reading a stream
 * back byte-exact, cleaning up, and a TCP proxy a test can cut and restore to
 * simulate outages.
 */
import net from 'node:net';
import type { TestContext } from 'node:test';
import Redis from 'ioredis';
import {
  RedisStreamsPublisher,
  type RedisStreamsPublisherOptions,
} from '../../src/shared/publishing/redis-streams/redis-streams-publisher';
import { uniqueName } from './unique-name';

export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = 6379;
export const REDIS_URL = `redis://${REDIS_HOST}:${REDIS_PORT}`;

/** A stream entry as Redis holds it, every field as raw bytes, in field order. */
export interface StreamEntry {
  readonly id: string;
  readonly fields: ReadonlyArray<readonly [string, Buffer]>;
}

export interface RedisScratch {
  /** A plain client for inspecting Redis. */
  readonly admin: Redis;
  /** The test's own key prefix: everything under it is deleted after the test. */
  readonly prefix: string;
}

/**
 * A client and a unique key prefix for one test. One after-hook deletes the keys
 * and then quits the client (node:test runs after-hooks first-registered first).
 */
export function redisScratch(t: TestContext, label: string): RedisScratch {
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefix = uniqueName(label);
  t.after(async () => {
    try {
      await deleteKeysWithPrefix(admin, prefix);
    } finally {
      await quitClient(admin);
    }
  });
  return { admin, prefix };
}

/** A real publisher for `streamKey` (on the local Redis unless `url` says otherwise), closed after the test. */
export function publisherFor(
  t: TestContext,
  options: Partial<RedisStreamsPublisherOptions> & { streamKey: string },
): RedisStreamsPublisher {
  const publisher = new RedisStreamsPublisher({ url: REDIS_URL, maxlen: 0, connectTimeoutMs: 2000, ...options });
  t.after(() => publisher.close());
  return publisher;
}

export async function quitClient(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  await redis.quit().catch(() => redis.disconnect());
}

/** Every entry of a stream, oldest first, with field values as Buffers. */
export async function readStream(redis: Redis, key: string): Promise<StreamEntry[]> {
  const raw = await redis.xrangeBuffer(key, '-', '+');
  return raw.map(([id, flat]) => {
    const fields: Array<[string, Buffer]> = [];
    for (let i = 0; i < flat.length; i += 2) fields.push([flat[i].toString('utf8'), flat[i + 1]]);
    return { id: id.toString('utf8'), fields };
  });
}

/** Deletes every key under a prefix (SCAN, so it works for any number of tenants). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Drops every proxied connection and refuses new ones (accepts, then closes them). */
  cut(): void;
  /** Proxies new connections to the target again. */
  restore(): void;
  /** Stops forwarding client bytes without closing anything: a hung backend. */
  stall(): void;
  /** Forwards again, including what arrived while stalled. */
  unstall(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on port 0 in front of a target (Redis by default). While cut, the
 * proxy keeps listening but closes what it accepts, so the client sees a backend
 * that drops connections, and no other process can take the port meanwhile.
 */
export async function startTcpProxy(t: TestContext, targetPort = REDIS_PORT): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let broken = false;
  let stalled = false;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // the peer of a cut pair resets: expected
  };
  const server = net.createServer((client) => {
    track(client);
    if (broken) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, REDIS_HOST);
    track(upstream);
    const pair = { client, upstream };
    pairs.add(pair);
    if (stalled) client.pause();
    else client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => {
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, REDIS_HOST, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  const destroyAll = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  const proxy: TcpProxy = {
    port,
    url: `redis://${REDIS_HOST}:${port}`,
    cut() {
      broken = true;
      destroyAll();
    },
    restore() {
      broken = false;
    },
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        client.pause();
      }
    },
    unstall() {
      stalled = false;
      for (const { client, upstream } of pairs) client.pipe(upstream);
    },
    close() {
      destroyAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  t.after(() => proxy.close());
  return proxy;
}

/** A TCP server that accepts connections and never answers (a hung backend). */
export async function startSilentServer(t: TestContext): Promise<{ port: number; url: string }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, REDIS_HOST, resolve);
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as net.AddressInfo;
  return { port, url: `redis://${REDIS_HOST}:${port}` };
}
