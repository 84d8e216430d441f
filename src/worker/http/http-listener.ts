/**
 * The worker's listening socket, plain HTTP or HTTPS by configuration. Every
 * connection is tracked until its first request or upgrade is read (a rolling
 * restart's drain waits for those), a malformed request gets a bare 400 (431
 * for an oversized head, 408 for one that never completes), and
 * there are two ways to stop listening: shutdown's, which also ends idle
 * connections, and the drain's, which keeps them (see stopAccepting).
 *
 * With TLS, a connection is tracked from its TCP accept until its handshake
 * completes: net.Server's close waits for every connection, and one that opens
 * the port and never says a word would hold a shutdown (or a roll's drain) for
 * tls's handshakeTimeout (120 s). Both ways of stopping destroy those.
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/config-schema';
import { IngestError } from '../../shared/errors';
import type { UnservedConnections } from './unserved-connections';

/**
 * The answers Node itself gives when nothing handles 'clientError': a request
 * head over its 16 KiB limit, and one not complete within headersTimeout (60 s,
 * checked every 30 s: a slow upgrade is dropped 60-90 s after it began).
 */
const CLIENT_ERROR_STATUS: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

export interface HttpListenerOptions {
  /** SSL_KEY_PATH set: HTTPS with that key and SSL_CERT_PATH. */
  readonly tls: Pick<Config, 'sslKeyPath' | 'sslCertPath'>;
  readonly logger: Logger;
  readonly unserved: UnservedConnections;
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

export class HttpListener {
  private readonly server: http.Server | https.Server;
  private closing: Promise<void> | undefined;
  /** TLS: accepted sockets whose handshake has not completed, by peer address and port (unique while open). */
  private readonly handshaking = new Map<string, net.Socket>();

  constructor(options: HttpListenerOptions) {
    const { tls, logger, unserved } = options;
    this.server = tls.sslKeyPath
      ? https.createServer({ key: fs.readFileSync(tls.sslKeyPath), cert: fs.readFileSync(tls.sslCertPath) })
      : http.createServer();
    if (tls.sslKeyPath) {
      this.server.on('connection', (raw: net.Socket) => this.trackHandshake(raw));
      this.server.on('secureConnection', (socket: net.Socket) => {
        this.handshaking.delete(peerKey(socket));
        unserved.track(socket);
      });
    } else {
      this.server.on('connection', (socket: Duplex) => unserved.track(socket));
    }
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      unserved.served(req.socket);
      options.onRequest(req, res);
    });
    this.server.on('upgrade', options.onUpgrade);
    this.server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
      const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? '400 Bad Request';
      logger.debug({ err: err.message, code: err.code }, `malformed HTTP request: ${status}`);
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
  }

  /** Listens on `port` (0: any free port) and returns the bound port. */
  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server.off('listening', onListening);
        reject(err.code === 'EADDRINUSE' ? new IngestError('port_in_use', `port ${port} is already in use`) : err);
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(port, host);
    });
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  /**
   * Stops taking connections and keeps the idle ones; resolves once every
   * connection has closed. net.Server's close, not http.Server's: the latter
   * also closes idle connections, and one the primary handed over a moment
   * ago, whose upgrade request is not read yet, counts as idle.
   */
  stopAccepting(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => net.Server.prototype.close.call(this.server, () => resolve()));
    return this.closing;
  }

  /** Stops taking connections and closes the idle ones; resolves once every connection has closed. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.dropHandshakes();
    return this.closing;
  }

  /** Closes every connection still open on the HTTP side (keep-alive probes, unfinished TLS handshakes). */
  dropConnections(): void {
    this.server.closeAllConnections();
    this.dropHandshakes();
  }

  private trackHandshake(raw: net.Socket): void {
    const key = peerKey(raw);
    this.handshaking.set(key, raw);
    raw.once('close', () => {
      if (this.handshaking.get(key) === raw) this.handshaking.delete(key);
    });
  }

  private dropHandshakes(): void {
    for (const raw of this.handshaking.values()) raw.destroy();
    this.handshaking.clear();
  }
}

function peerKey(socket: net.Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}
