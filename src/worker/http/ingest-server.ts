/**
 * A worker's server: the composition of its listener (http-listener.ts), the
 * probe routes (health-routes.ts) and the upgrade router (upgrade-router.ts),
 * which hands admitted streams to their sources. It owns the server state,
 * which decides what each request gets, and every session it accepts
 * (session-registry.ts), and runs the drain that ends them.
 *
 * Life: starting → ready → draining → closed (docs/architecture.md).
 */
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/config-schema';
import { healthBody, worseStatus, type HealthBody } from '../../shared/health/health-status';
import type { Publisher } from '../../shared/publishing/publisher';
import { ClientAddressResolver } from '../admission/client-address';
import { ConnectionLimiter } from '../admission/connection-limiter';
import type { JwksKeySource } from '../admission/jwks-key-source';
import type { TenantStreamLimit } from '../admission/tenant-stream-leases';
import type { TokenVerifier } from '../admission/token-verifier';
import { UpgradeGuard } from '../admission/upgrade-guard';
import { WorkerStats } from '../metrics/worker-stats';
import { TelephonyGate } from '../sources/telephony/telephony-gate';
import { InteractionOrder } from '../stream/interaction-order';
import { WorkerBacklog } from '../stream/worker-backlog';
import { HealthRoutes } from './health-routes';
import { HttpListener } from './http-listener';
import { SessionRegistry } from './session-registry';
import { StreamAcceptor } from './stream-acceptor';
import { UnservedConnections } from './unserved-connections';
import { UpgradeRouter, type Admitting } from './upgrade-router';
import { websocketHandshake } from './websocket-handshake';
import { SERVER_CLOSE } from '../../shared/protocol';

export type ServerState = 'starting' | 'ready' | 'draining' | 'closed';

export interface IngestServerOptions {
  readonly config: Readonly<Config>;
  readonly publisher: Publisher;
  readonly verifier: TokenVerifier | undefined;
  /** The key set of JWT_JWKS_URL: /health is degraded while it is stale. */
  readonly keySet?: Pick<JwksKeySource, 'stale'>;
  readonly logger: Logger;
  /** MAX_STREAMS_PER_TENANT's leases (absent: that limit is off). */
  readonly leases?: TenantStreamLimit;
  readonly stats?: WorkerStats;
  /** Replaces the worker-local health body (the cluster view, when the primary shares one). */
  readonly healthView?: (local: HealthBody) => HealthBody;
}

export class IngestServer {
  readonly stats: WorkerStats;
  /** Unpublished bytes of every session, against MAX_WORKER_BACKLOG_BYTES. */
  readonly backlog: WorkerBacklog;
  /** The sessions of each interaction in line (a resumed stream waits for its old session). */
  readonly order = new InteractionOrder();
  private state: ServerState = 'starting';
  private readonly listener: HttpListener;
  private readonly sessions: SessionRegistry;
  private readonly unserved = new UnservedConnections();
  private closePromise: Promise<void> | undefined;
  private endGrace: (() => void) | undefined;
  /** During a rolling-restart drain's grace: upgrades on connections handed over before the listener closed. */
  private admitStragglers = false;

  constructor(private readonly options: IngestServerOptions) {
    const { config, publisher, logger } = options;
    this.stats = options.stats ?? new WorkerStats();
    const stats = this.stats;
    this.backlog = new WorkerBacklog(config.maxWorkerBacklogBytes);
    this.sessions = new SessionRegistry(config.pingIntervalMs);
    const limiter = new ConnectionLimiter(config);
    const routes = new HealthRoutes(this);
    const router = new UpgradeRouter({
      guard: new UpgradeGuard(options.verifier, limiter, options.leases),
      telephony: new TelephonyGate(config, limiter, options.leases),
      addresses: new ClientAddressResolver(config.trustedProxies),
      admitting: () => this.admitting(),
      backlogFull: () => this.backlog.full,
      handshake: websocketHandshake(config),
      sources: new StreamAcceptor({
        config,
        publisher,
        logger,
        stats,
        sessions: this.sessions,
        backlog: this.backlog,
        order: this.order,
      }),
      unserved: this.unserved,
      stats,
      logger,
    });
    this.listener = new HttpListener({
      tls: config,
      logger,
      unserved: this.unserved,
      onRequest: (req, res) => routes.handle(req, res),
      onUpgrade: (req, socket, head) => router.handle(req, socket, head),
    });
  }

  get serverState(): ServerState {
    return this.state;
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Listens on `port` (0: any free port) and returns the bound port. */
  async listen(port: number, host: string): Promise<number> {
    const bound = await this.listener.listen(port, host);
    this.sessions.start();
    this.state = 'ready';
    return bound;
  }

  health(): HealthBody {
    const { publisher, config, healthView, keySet } = this.options;
    const local = healthBody(publisher.health(), config.backendUnhealthyAfterMs, this.state !== 'ready');
    const body = healthView ? healthView(local) : local;
    // A stale key set still verifies the tokens of known keys: degraded, never unhealthy.
    return keySet?.stale() ? { ...body, status: worseStatus(body.status, 'degraded') } : body;
  }

  /** Ready: accepting streams and the backend reachable. */
  ready(): boolean {
    const state = this.options.publisher.health().state;
    return this.state === 'ready' && (state === 'up' || state === 'degraded');
  }

  /** Unpublished bytes across this worker's streams, live and closed (the ingest_backlog_bytes gauge). */
  backlogBytes(): number {
    return this.backlog.bytes;
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
    code: number = SERVER_CLOSE.shutdown.code,
    reason: string = SERVER_CLOSE.shutdown.reason,
    options: { stopListening?: boolean; graceMs?: number } = {},
  ): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.state = 'draining';
    const drained = options.stopListening ? this.listener.stopAccepting() : undefined;
    // Connections the primary handed over just before the listener closed still
    // send their upgrade: serve them like the others (no new connection refused during a roll).
    this.admitStragglers = drained !== undefined;
    this.closePromise = (async () => {
      if (drained && options.graceMs) await this.graceUntil(this.whenSettled(), options.graceMs);
      else if (options.graceMs && this.sessions.size > 0)
        await this.graceUntil(this.sessions.whenEmpty(), options.graceMs);
      this.admitStragglers = false;
      await this.sessions.shutdownAll(code, reason);
      await this.sessions.whenEmpty();
      this.sessions.close();
      if (drained) this.listener.dropConnections(); // idle keep-alive probes
      await (drained ?? this.closeListener());
      this.state = 'closed';
    })();
    return this.closePromise;
  }

  /** A shutdown during a rolling-restart drain wins: stop waiting for streams to end by themselves. */
  cutDrainShort(): void {
    this.endGrace?.();
  }

  /** Stops retries for every session (shutdown deadline); returns the bytes given up. */
  abandon(): { streams: number; bytes: number } {
    return this.sessions.abandon();
  }

  private admitting(): Admitting {
    if (this.state === 'ready' || this.admitStragglers) return 'open';
    return this.state === 'starting' ? 'starting' : 'draining';
  }

  private closeListener(): Promise<void> {
    const closed = this.listener.close();
    if (this.sessions.size === 0) this.listener.dropConnections();
    return closed;
  }

  /** No stream left, and no connection handed over whose request is still to come. */
  private async whenSettled(): Promise<void> {
    while (this.sessions.size > 0 || this.unserved.size > 0) {
      await this.sessions.whenEmpty();
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
}
