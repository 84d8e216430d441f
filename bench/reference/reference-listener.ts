/**
 * The edge both reference servers share, written as a lean service would
 * write it: one HTTP server whose upgrades on /v1/ingest carry a JWT that is
 * verified before the handshake (401 otherwise), then a `ws` socket handed
 * to the server's stream handler with the token's tenant. Nothing else: no
 * limits, no probes, no telephony, which is what makes them floors.
 */
import http from 'node:http';
import type net from 'node:net';
import { createPublicKey, type KeyObject } from 'node:crypto';
import jwt, { type Algorithm } from 'jsonwebtoken';
import { WebSocketServer, type WebSocket } from 'ws';

/** The service's default list (JWT_ALGORITHMS), so both sides verify the same way. */
const ALGORITHMS: Algorithm[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'];
const MAX_PAYLOAD = 65_536;
const PATH = '/v1/ingest';

export interface ReferenceListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly publicKeyPem: string;
  readonly onStream: (ws: WebSocket, tenant: string) => void;
}

export interface ReferenceListener {
  readonly port: number;
  close(): Promise<void>;
}

function refuse(socket: net.Socket, status: number, text: string): void {
  const body = JSON.stringify({ error: 'invalid_token', message: text });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The tenant of a valid token, or undefined. */
function tenantOf(header: string | undefined, key: KeyObject): string | undefined {
  if (!header?.startsWith('Bearer ')) return undefined;
  try {
    const claims = jwt.verify(header.slice(7), key, { algorithms: ALGORITHMS }) as jwt.JwtPayload;
    return typeof claims.tenant_id === 'string' && claims.exp !== undefined ? claims.tenant_id : undefined;
  } catch {
    return undefined;
  }
}

export function startReferenceListener(options: ReferenceListenerOptions): Promise<ReferenceListener> {
  const key = createPublicKey(options.publicKeyPem);
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, clientTracking: true, maxPayload: MAX_PAYLOAD });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (!req.url?.startsWith(PATH)) return refuse(socket, 404, 'unknown path');
    const tenant = tenantOf(req.headers.authorization, key);
    if (tenant === undefined) return refuse(socket, 401, 'missing or invalid token');
    wss.handleUpgrade(req, socket, head, (ws) => options.onStream(ws, tenant));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const ws of wss.clients) ws.terminate();
            wss.close();
            server.close(() => done());
          }),
      });
    });
  });
}

/** The settings a reference server reads from its environment (the service's own names). */
export interface ReferenceEnv {
  readonly host: string;
  readonly port: number;
  readonly publicKeyPem: string;
}

export function referenceEnv(env: NodeJS.ProcessEnv): ReferenceEnv {
  const publicKeyPem = env.JWT_PUBLIC_KEY ?? '';
  if (publicKeyPem === '') throw new Error('JWT_PUBLIC_KEY is required');
  return { host: env.HOST ?? '127.0.0.1', port: Number(env.PORT ?? 0), publicKeyPem };
}

/**
 * Starts `listener`, prints `listening <port>` on stdout (what the benchmark
 * waits for), and closes it and whatever `release` frees on SIGTERM/SIGINT.
 */
export function runReferenceServer(start: () => Promise<ReferenceListener>, release: () => Promise<void>): void {
  start().then(
    (listener) => {
      process.stdout.write(`listening ${listener.port}\n`);
      let closing = false;
      const stop = (): void => {
        if (closing) return;
        closing = true;
        listener
          .close()
          .then(release)
          .then(
            () => (process.exitCode = 0),
            (err: unknown) => {
              console.error(`reference server: closing failed: ${String(err)}`);
              process.exitCode = 1;
            },
          );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (err: unknown) => {
      console.error(`reference server: could not start: ${String(err)}`);
      process.exitCode = 1;
    },
  );
}
