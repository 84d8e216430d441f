/**
 * Decides what each WebSocket upgrade gets, before the handshake (protocol.md
 * 1.1): which source it is for (telephony providers claim theirs first, native
 * streams are on /v1/ingest only), whether the worker takes streams now, and
 * the source's admission (its proof, a connection slot). A refusal is an HTTP
 * answer on the raw socket, counted and logged; an admitted upgrade completes
 * the handshake and goes to its source.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import { IngestError } from '../../shared/errors';
import { ROUTES, routePath } from '../../shared/routes';
import type { ClientAddressResolver } from '../admission/client-address';
import { redactUrl } from '../admission/token-extractor';
import type { UpgradeGuard, VerifiedIdentity } from '../admission/upgrade-guard';
import type { WorkerStats } from '../metrics/worker-stats';
import type { TelephonyAdmission, TelephonyGate } from '../sources/telephony/telephony-gate';
import type { UnservedConnections } from './unserved-connections';
import { refuseUpgrade } from './upgrade-refusal';

/** Whether the worker takes streams now ('open'), or why not. */
export type Admitting = 'open' | 'starting' | 'draining';

/** Completes the WebSocket handshake; calls `accepted` only when it succeeds. */
export type Handshake = (req: IncomingMessage, socket: Duplex, head: Buffer, accepted: (ws: WebSocket) => void) => void;

/** Where admitted streams go: each source's dialect. */
export interface StreamSources {
  native(ws: WebSocket, identity: VerifiedIdentity): void;
  telephony(ws: WebSocket, admission: TelephonyAdmission): void;
}

export interface UpgradeRouterDeps {
  readonly guard: Pick<UpgradeGuard, 'admit'>;
  readonly telephony: Pick<TelephonyGate, 'route' | 'admit'>;
  readonly addresses: Pick<ClientAddressResolver, 'resolve'>;
  readonly admitting: () => Admitting;
  /** True while the worker's unpublished backlog is at MAX_WORKER_BACKLOG_BYTES: new streams get 503. */
  readonly backlogFull: () => boolean;
  readonly handshake: Handshake;
  readonly sources: StreamSources;
  /** A rolling restart's drain waits for connections whose upgrade has not become a stream yet. */
  readonly unserved: Pick<UnservedConnections, 'served'>;
  readonly stats: WorkerStats;
  readonly logger: Logger;
}

/** An admitted upgrade: its connection slot, and the source that takes the WebSocket. */
interface Route {
  readonly release: () => void;
  readonly accept: (ws: WebSocket) => void;
}

/**
 * Errors on the raw socket before the handshake must not crash the worker.
 * A plain function, not a closure: a closure made in handle() would keep the
 * request (headers, token) alive for the whole life of the stream.
 */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

interface Admitted {
  readonly route: Route;
  readonly clientAddress: string;
}

function notReady(admitting: Exclude<Admitting, 'open'>): IngestError {
  return new IngestError('not_ready', admitting === 'starting' ? 'the service is starting' : 'the service is draining');
}

function backlogFull(): IngestError {
  return new IngestError(
    'worker_backlog_full',
    "the worker's unpublished backlog is at MAX_WORKER_BACKLOG_BYTES (backend slow or down); retry later",
  );
}

/**
 * While an upgrade waits for admission, a client that closes its side gets its
 * socket closed at once rather than when the wait ends. Node leaves an upgrade
 * socket unread, so its end would go unnoticed: a 'readable' listener and a
 * zero-byte read let the end through without consuming anything (a client
 * sends nothing before the handshake's answer, and what it sends anyway stays
 * for ws). Returns the function that stops watching.
 */
function closeOnClientEnd(socket: Duplex): () => void {
  const onReadable = (): void => void socket.read(0);
  const onEnd = (): void => void socket.destroy();
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
  return () => {
    socket.off('readable', onReadable);
    socket.off('end', onEnd);
  };
}

export class UpgradeRouter {
  /** One handler for every connection: a closure per connection would hold its upgrade's scope. */
  private readonly onConnectionClosed = (): void => {
    this.deps.stats.connectionsActive--;
  };

  constructor(private readonly deps: UpgradeRouterDeps) {}

  /**
   * The listener's 'upgrade' handler. Admission may wait (a token naming a key
   * the worker has yet to fetch) without holding any other upgrade: each one
   * goes its own way, and a waiting one is checked again when it resumes.
   */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroyOnError);
    const clientAddress = this.deps.addresses.resolve(req);
    const stopWatching = closeOnClientEnd(socket);
    void this.route(req, clientAddress)
      .then(
        (route) => {
          stopWatching();
          this.admitted(req, socket, head, { route, clientAddress });
        },
        (err: unknown) => {
          stopWatching();
          this.refuse(req, socket, err, clientAddress);
        },
      )
      .catch((err: unknown) => this.refuse(req, socket, err, clientAddress));
  }

  /** Completes the handshake of an admitted upgrade, unless its client left or the worker began to drain meanwhile. */
  private admitted(req: IncomingMessage, socket: Duplex, head: Buffer, admitted: Admitted): void {
    const { route, clientAddress } = admitted;
    const stats = this.deps.stats;
    if (socket.destroyed) {
      route.release();
      stats.count(stats.connections, 'client_gone');
      return;
    }
    const admitting = this.deps.admitting();
    if (admitting !== 'open') {
      route.release();
      return this.refuse(req, socket, notReady(admitting), clientAddress);
    }
    stats.count(stats.connections, 'accepted');
    // The slot taken at admission comes back when the socket closes: after the
    // stream, or when the handshake itself fails (ws never calls back then).
    // `on`, not `once`: a socket closes once, and once()'s wrapper would cost
    // every open stream two more objects.
    socket.on('close', route.release);
    this.deps.handshake(req, socket, head, (ws) => {
      socket.off('error', destroyOnError);
      stats.connectionsActive++;
      ws.on('close', this.onConnectionClosed); // ws emits 'close' once
      route.accept(ws);
      this.deps.unserved.served(socket); // after accept(): the session already counts
    });
  }

  /** Rejects with the IngestError to refuse with, or admits the upgrade. */
  private async route(req: IncomingMessage, clientAddress: string): Promise<Route> {
    const { telephony, guard, sources } = this.deps;
    const path = routePath(req.url);
    // Telephony first: on /v1/ingest, Exotel claims Basic or absent Authorization.
    const provider = telephony.route(path, req);
    if (path !== ROUTES.ingest && !provider)
      throw new IngestError('not_found', `no WebSocket endpoint at ${path}; streams go to ${ROUTES.ingest}`);
    const admitting = this.deps.admitting();
    if (admitting !== 'open') throw notReady(admitting);
    // Before any proof is checked: a full worker takes no stream, whoever asks.
    if (this.deps.backlogFull()) throw backlogFull();
    if (provider) {
      const admission = await telephony.admit(provider, req, clientAddress);
      return { release: admission.release, accept: (ws) => sources.telephony(ws, admission) };
    }
    const identity = await guard.admit(req, clientAddress);
    return { release: identity.release, accept: (ws) => sources.native(ws, identity) };
  }

  private refuse(req: IncomingMessage, socket: Duplex, err: unknown, clientAddress: string): void {
    const { logger, stats } = this.deps;
    if (!(err instanceof IngestError)) {
      logger.error({ err, url: redactUrl(req.url ?? '') }, 'upgrade failed unexpectedly');
      socket.destroy();
      return;
    }
    const reason = err.code;
    stats.count(stats.connections, reason);
    if (err.status === 401 || err.status === 403) stats.count(stats.authFailures, reason);
    logger.info(
      { code: reason, status: err.status, client: clientAddress, url: redactUrl(req.url ?? ''), detail: err.detail },
      `upgrade refused: ${err.message}`,
    );
    refuseUpgrade(socket, err);
  }
}
