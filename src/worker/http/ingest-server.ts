/**
 * A worker's HTTP(S) server: /health, /ready, /live, and WebSocket streams on
 * /v1/ingest (plus the telephony paths of sources/) with authentication in the
 * `upgrade` handler, before the handshake (ws runs in noServer mode). It owns every session it accepts and
 * the heartbeat that pings them.
 *
 * Life: starting → ready → draining → closed (docs/architecture.md).
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/config-schema';
import { IngestError } from '../../shared/errors';
import type { Publisher } from '../../shared/publishing/publisher';
import { ClientAddressResolver } from '../admission/client-address';
import { ConnectionLimiter } from '../admission/connection-limiter';
import { healthBody, type HealthBody } from '../../shared/health/health-status';
import { attachNativeConnection } from '../sources/native/native-connection';
import { attachTelephonyConnection } from '../sources/telephony/telephony-connection';
import { TelephonyGate, type TelephonyAdmission } from '../sources/telephony/telephony-gate';
import type { StreamSession, SessionDeps } from '../stream/stream-session';
import { redactUrl, selectSubprotocol } from '../admission/token-extractor';
import type { TokenVerifier } from '../admission/token-verifier';
import { refuseUpgrade } from './upgrade-refusal';
import { UpgradeGuard, type VerifiedIdentity } from '../admission/upgrade-guard';
import { UnservedConnections } from './unserved-connections';
import { WorkerStats } from '../metrics/worker-stats';
import { ROUTES, routePath } from '../../shared/routes';

export type ServerState = 'starting' | 'ready' | 'draining' | 'closed';

const RETRY_AFTER_S = '5';
/** Room for the start message (metadata up to 4 KiB) whatever MAX_FRAME_BYTES is. */
const MIN_MESSAGE_BYTES = 16 * 1024;
/** How long a closing handshake may take before the socket is destroyed. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 5_000;

export interface IngestServerOptions {
  readonly config: Readonly<Config>;
  readonly publisher: Publisher;
  readonly verifier: TokenVerifier | undefined;
  readonly logger: Logger;
  readonly stats?: WorkerStats;
  /** Replaces the worker-local health body (the cluster view, when the primary shares one). */
  readonly healthView?: (local: HealthBody) => HealthBody;
}

export class IngestServer {
  readonly stats: WorkerStats;
  private state: ServerState = 'starting';
  private readonly server: http.Server | https.Server;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<StreamSession, WebSocket>();
  private readonly guard: UpgradeGuard;
  private readonly telephony: TelephonyGate;
  /** Telephony sessions: never pinged (the one-way applets must receive nothing). */
  private readonly unpinged = new WeakSet<StreamSession>();
  private readonly limiter: ConnectionLimiter;
  private readonly addresses: ClientAddressResolver;
  private readonly deps: SessionDeps;
  private heartbeat: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private closePromise: Promise<void> | undefined;
  private endGrace: (() => void) | undefined;
  /** During a rolling-restart drain's grace: upgrades on connections handed over before the listener closed. */
  private admitStragglers = false;
  private readonly unserved = new UnservedConnections();

  constructor(private readonly options: IngestServerOptions) {
    const { config, logger } = options;
    this.stats = options.stats ?? new WorkerStats();
    this.limiter = new ConnectionLimiter(config);
    this.guard = new UpgradeGuard(options.verifier, this.limiter);
    this.telephony = new TelephonyGate(config, this.limiter);
    this.addresses = new ClientAddressResolver(config.trustedProxies);
    this.server = config.sslKeyPath
      ? https.createServer({ key: fs.readFileSync(config.sslKeyPath), cert: fs.readFileSync(config.sslCertPath) })
      : http.createServer();
    this.server.on(config.sslKeyPath ? 'secureConnection' : 'connection', (socket: Duplex) =>
      this.unserved.track(socket),
    );
    this.server.on('request', (req, res) => {
      this.unserved.served(req.socket);
      this.onRequest(req, res);
    });
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (err, socket) => {
      logger.debug({ err: err.message }, 'malformed HTTP request');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: Math.max(config.maxFrameBytes, MIN_MESSAGE_BYTES),
      handleProtocols: (protocols) => selectSubprotocol(protocols),
      // A peer that does not answer our close frame is dropped after this, not
      // ws's 30 s default, which would outlast a default SHUTDOWN_TIMEOUT_MS.
      closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS,
    } as ConstructorParameters<typeof WebSocketServer>[0]);
    this.deps = {
      limits: config,
      publisher: options.publisher,
      logger,
      stats: this.stats,
      onFinished: (session) => this.onSessionFinished(session),
    };
  }

  get serverState(): ServerState {
    return this.state;
  }

  get activeSessions(): number {
    return this.sessions.size;
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
    this.heartbeat = setInterval(() => this.pingAll(), this.options.config.pingIntervalMs);
    this.state = 'ready';
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  health(): HealthBody {
    const { publisher, config, healthView } = this.options;
    const local = healthBody(publisher.health(), config.backendUnhealthyAfterMs, this.state !== 'ready');
    return healthView ? healthView(local) : local;
  }

  /** Ready: accepting streams and the backend reachable. */
  ready(): boolean {
    const state = this.options.publisher.health().state;
    return this.state === 'ready' && (state === 'up' || state === 'degraded');
  }

  /** Unpublished bytes across this worker's streams (the ingest_backlog_bytes gauge). */
  backlogBytes(): number {
    let bytes = 0;
    for (const session of this.sessions.keys()) bytes += session.unpublishedBytes;
    return bytes;
  }

  /**
   * Stops taking streams and ends every open one with `code` after publishing
   * everything it buffered; then closes the listener. Idempotent.
   *
   * Shutdown (SIGTERM) keeps the listener open meanwhile, answering 503 on
   * upgrades and /ready, so load balancers see the drain; a rolling restart
   * (`stopListening`) closes it at once so new connections go to the other
   * workers, and gives streams `graceMs` to end by themselves first.
   */
  close(
    code = 1001,
    reason = 'server shutting down',
    options: { stopListening?: boolean; graceMs?: number } = {},
  ): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.state = 'draining';
    const drained = options.stopListening ? this.stopAccepting() : undefined;
    // Connections the primary handed over just before the listener closed still
    // send their upgrade: serve them like the others (no new connection refused during a roll).
    this.admitStragglers = drained !== undefined;
    this.closePromise = (async () => {
      if (drained && options.graceMs) await this.graceUntil(this.whenSettled(), options.graceMs);
      else if (options.graceMs && this.sessions.size > 0) await this.graceUntil(this.whenNoSessions(), options.graceMs);
      this.admitStragglers = false;
      const ending = [...this.sessions.keys()].map((s) => s.shutdown(code, reason));
      await Promise.all(ending);
      await this.whenNoSessions();
      if (this.heartbeat) clearInterval(this.heartbeat);
      if (drained) this.server.closeAllConnections(); // idle keep-alive probes
      await (drained ?? this.closeListener());
      this.state = 'closed';
    })();
    return this.closePromise;
  }

  /**
   * Stops taking connections; resolves once every connection this worker holds
   * has closed. net.Server's close, not http.Server's: the latter also closes
   * idle connections, and one the primary handed over a moment ago, whose
   * upgrade request is not read yet, counts as idle.
   */
  private stopAccepting(): Promise<void> {
    return new Promise<void>((resolve) => net.Server.prototype.close.call(this.server, () => resolve()));
  }

  private closeListener(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      if (this.sessions.size === 0) this.server.closeAllConnections();
    });
  }

  /** No stream left, and no connection handed over whose request is still to come. */
  private async whenSettled(): Promise<void> {
    while (this.sessions.size > 0 || this.unserved.size > 0) {
      await this.whenNoSessions();
      await this.unserved.whenNone(); // a straggler's upgrade may start a session: check again
    }
  }

  /** Waits for `settled` (streams ending by themselves), at most `ms`, or until cutDrainShort(). */
  private graceUntil(settled: Promise<void>, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.endGrace = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endGrace = done;
      void settled.then(done);
    });
  }

  /** A shutdown during a rolling-restart drain wins: stop waiting for streams to end by themselves. */
  cutDrainShort(): void {
    this.endGrace?.();
  }

  /** Stops retries for every session (shutdown deadline); returns the bytes given up. */
  abandon(): { streams: number; bytes: number } {
    let bytes = 0;
    let streams = 0;
    for (const session of this.sessions.keys()) {
      const lost = session.abandon();
      bytes += lost;
      if (lost > 0) streams++; // a session only waiting for its peer's close lost nothing
    }
    for (const ws of this.sessions.values()) ws.terminate();
    return { streams, bytes };
  }

  private whenNoSessions(): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = routePath(req.url);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendJson(res, 405, { error: 'method_not_allowed', message: 'only GET is served' });
    switch (path) {
      case ROUTES.health: {
        const body = this.health();
        return sendJson(res, body.status === 'unhealthy' ? 503 : 200, body);
      }
      case ROUTES.ready:
        return this.ready()
          ? sendJson(res, 200, { ready: true })
          : sendJson(res, 503, { ready: false, state: this.state }, { 'Retry-After': RETRY_AFTER_S });
      case ROUTES.live:
        return sendJson(res, 200, { live: true });
      default:
        return sendJson(res, 404, { error: 'not_found', message: `no route for ${path}` });
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Errors on the raw socket before the handshake must not crash the worker.
    const onSocketError = (): void => {
      socket.destroy();
    };
    socket.on('error', onSocketError);
    const path = routePath(req.url);
    const clientAddress = this.addresses.resolve(req);
    let accept: (ws: WebSocket) => void;
    let release: () => void;
    try {
      // Telephony first: on /v1/ingest, Exotel claims Basic or absent Authorization.
      const provider = this.telephony.route(path, req);
      if (path !== ROUTES.ingest && !provider)
        throw new IngestError('not_found', `no WebSocket endpoint at ${path}; streams go to ${ROUTES.ingest}`);
      if (this.state !== 'ready' && !this.admitStragglers)
        throw new IngestError(
          'not_ready',
          this.state === 'starting' ? 'the service is starting' : 'the service is draining',
        );
      if (provider) {
        const admission = this.telephony.admit(provider, req, clientAddress);
        release = admission.release;
        accept = (ws) => this.acceptTelephony(ws, admission);
      } else {
        const identity = this.guard.admit(req, clientAddress);
        release = identity.release;
        accept = (ws) => this.accept(ws, identity);
      }
    } catch (err) {
      return this.refuse(req, socket, err, clientAddress);
    }
    this.stats.count(this.stats.connections, 'accepted');
    // The slot taken by admit() comes back when the socket closes: after the
    // stream, or when the handshake itself fails (ws never calls back then).
    socket.once('close', release);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', onSocketError);
      this.stats.connectionsActive++;
      ws.once('close', () => this.stats.connectionsActive--);
      accept(ws);
      this.unserved.served(socket); // after accept(): the session already counts
    });
  }

  private acceptTelephony(ws: WebSocket, admission: TelephonyAdmission): void {
    const logger = this.options.logger.child({ source: admission.source, client: admission.clientAddress });
    const register = (session: StreamSession): void => {
      this.sessions.set(session, ws);
      this.unpinged.add(session);
    };
    attachTelephonyConnection(
      ws,
      admission,
      { ...this.deps, logger },
      { startTimeoutMs: this.options.config.startTimeoutMs },
      register,
    );
    this.stats.count(this.stats.telephonyConnections, admission.source);
    logger.debug('telephony stream connected');
  }

  private accept(ws: WebSocket, identity: VerifiedIdentity): void {
    const logger = this.options.logger.child({ tenant_id: identity.tenantId, client: identity.clientAddress });
    const session = attachNativeConnection(
      ws,
      identity,
      { ...this.deps, logger },
      { startTimeoutMs: this.options.config.startTimeoutMs, maxFrameBytes: this.options.config.maxFrameBytes },
    );
    this.sessions.set(session, ws);
    logger.debug({ via: identity.via }, 'stream connected');
  }

  private refuse(req: IncomingMessage, socket: Duplex, err: unknown, clientAddress: string): void {
    if (!(err instanceof IngestError)) {
      this.options.logger.error({ err, url: redactUrl(req.url ?? '') }, 'upgrade failed unexpectedly');
      socket.destroy();
      return;
    }
    const reason = err.code;
    this.stats.count(this.stats.connections, reason);
    if (err.status === 401 || err.status === 403) this.stats.count(this.stats.authFailures, reason);
    this.options.logger.info(
      { code: reason, status: err.status, client: clientAddress, url: redactUrl(req.url ?? '') },
      `upgrade refused: ${err.message}`,
    );
    refuseUpgrade(socket, err, err.status === 503 ? { 'Retry-After': RETRY_AFTER_S } : {});
  }

  private onSessionFinished(session: StreamSession): void {
    this.sessions.delete(session);
    if (this.sessions.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private pingAll(): void {
    for (const [session, ws] of this.sessions) {
      if (ws.readyState === ws.OPEN && !this.unpinged.has(session)) session.heartbeat(() => ws.ping());
    }
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}
