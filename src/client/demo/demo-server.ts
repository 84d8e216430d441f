/**
 * The browser demo's HTTP server (development only): the page and its scripts
 * from public/ in the source tree (plain files, never compiled), the
 * @ingest/client ES module build under /client/, the service's URL at
 * /config.json and a token at /token for the page's token provider.
 *
 * It hands a token to whoever asks, so it listens only on a loopback address
 * (127.0.0.1 by default; any other host is refused) and answers only requests
 * whose Host names the address it listens on (a page of another site reaching it
 * through a rebound DNS name is refused).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { isIPv4, type AddressInfo } from 'node:net';
import path from 'node:path';

/** The repository root: this file runs from dist/src/client/demo. */
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
export const PUBLIC_DIR = path.join(REPO_ROOT, 'src', 'client', 'demo', 'public');
export const CLIENT_ESM_DIR = path.join(REPO_ROOT, 'packages', 'client', 'dist', 'esm');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface DemoServerOptions {
  /** The service's native endpoint the page streams to, ws(s)://host:port/v1/ingest. */
  readonly serviceUrl: string;
  /** A token for the page, asked for before each of its connections. */
  readonly token: () => string | Promise<string>;
  /** Default 127.0.0.1; only a loopback address (127.x.x.x, ::1, localhost). */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
}

export class DemoServerError extends Error {
  constructor(
    readonly code: 'client_build_missing' | 'listen_failed' | 'host_not_loopback',
    message: string,
  ) {
    super(message);
  }
}

export class DemoServer {
  private server: http.Server | undefined;
  private closing: Promise<void> | undefined;
  private allowedHosts = new Set<string>();

  constructor(private readonly options: DemoServerOptions) {}

  /** Listens; resolves with the page's URL. */
  async start(): Promise<string> {
    if (this.server) throw new Error('DemoServer already started');
    if (!existsSync(path.join(CLIENT_ESM_DIR, 'index.js'))) {
      throw new DemoServerError(
        'client_build_missing',
        `the @ingest/client browser build is missing (${CLIENT_ESM_DIR}/index.js): run npm run build`,
      );
    }
    const host = this.options.host ?? '127.0.0.1';
    if (!isLoopbackHost(host)) {
      throw new DemoServerError(
        'host_not_loopback',
        `the demo server hands a token to whoever asks, so it listens only on a loopback address, not ${host}`,
      );
    }
    const server = http.createServer((req, res) => void this.answer(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new DemoServerError('listen_failed', `demo server: ${err.message}`)));
      server.listen(this.options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const named = host.includes(':') ? `[${host}]` : host;
    this.allowedHosts = new Set([`${named}:${port}`, `localhost:${port}`]);
    return `http://${named}:${port}/`;
  }

  /** Stops listening and ends every connection; idempotent. */
  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return this.closing;
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      if (!this.allowedHosts.has(req.headers.host ?? '')) return send(res, 403, 'text/plain', 'unexpected Host\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
      const { pathname } = new URL(req.url ?? '/', 'http://demo.invalid');
      if (pathname === '/config.json') {
        return send(res, 200, 'application/json', JSON.stringify({ serviceUrl: this.options.serviceUrl }));
      }
      if (pathname === '/token') {
        return send(res, 200, 'application/json', JSON.stringify({ token: await this.options.token() }));
      }
      const file =
        pathname === '/'
          ? path.join(PUBLIC_DIR, 'index.html')
          : pathname.startsWith('/client/')
            ? inside(CLIENT_ESM_DIR, pathname.slice('/client/'.length))
            : inside(PUBLIC_DIR, pathname.slice(1));
      const type = file && CONTENT_TYPES[path.extname(file)];
      if (!file || !type) return send(res, 404, 'text/plain', 'not found\n');
      const body = await readFile(file).catch(() => undefined);
      if (!body) return send(res, 404, 'text/plain', 'not found\n');
      return send(res, 200, type, body);
    } catch (err) {
      return send(res, 500, 'text/plain', `${(err as Error).message}\n`);
    }
  }
}

/** Whether `host` is reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/** `relative` resolved under `dir`, or undefined when it would leave it. */
function inside(dir: string, relative: string): string | undefined {
  const file = path.resolve(dir, decodeURIComponent(relative));
  return file.startsWith(dir + path.sep) ? file : undefined;
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  // Nothing here may be cached: the token changes, and the page is edited while the demo runs.
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}
