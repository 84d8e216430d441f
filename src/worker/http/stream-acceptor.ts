/**
 * Hands a WebSocket the router admitted to its source dialect (native, or the
 * telephony provider that claimed it) with a logger naming who connected, and
 * registers every session the dialect opens, so that the heartbeat, the drain
 * and the backlog gauge see it.
 */
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/config-schema';
import { BoundLog } from '../../shared/process/bound-log';
import type { Publisher } from '../../shared/publishing/publisher';
import type { VerifiedIdentity } from '../admission/upgrade-guard';
import type { WorkerStats } from '../metrics/worker-stats';
import {
  attachNativeConnection,
  nativeConnectionOptions,
  type NativeConnectionOptions,
} from '../sources/native/native-connection';
import {
  attachTelephonyConnection,
  telephonyConnectionOptions,
  type TelephonyConnectionOptions,
} from '../sources/telephony/telephony-connection';
import type { TelephonyAdmission } from '../sources/telephony/telephony-gate';
import type { InteractionOrder } from '../stream/interaction-order';
import type { SessionDeps, StreamSession } from '../stream/stream-session';
import type { WorkerBacklog } from '../stream/worker-backlog';
import type { SessionRegistry } from './session-registry';
import type { StreamSources } from './upgrade-router';

export interface StreamAcceptorOptions {
  readonly config: Readonly<Config>;
  readonly publisher: Publisher;
  readonly logger: Logger;
  readonly stats: WorkerStats;
  readonly sessions: SessionRegistry;
  readonly backlog: WorkerBacklog;
  readonly order: InteractionOrder;
}

export class StreamAcceptor implements StreamSources {
  private readonly deps: SessionDeps;
  // One per worker, not one per connection.
  private readonly nativeOptions: NativeConnectionOptions;
  private readonly telephonyOptions: TelephonyConnectionOptions;

  constructor(private readonly options: StreamAcceptorOptions) {
    const { config, publisher, logger, stats, sessions, backlog, order } = options;
    this.deps = {
      limits: config,
      publisher,
      logger,
      stats,
      backlog,
      order,
      onFinished: (session) => sessions.remove(session),
    };
    this.nativeOptions = nativeConnectionOptions(config.startTimeoutMs, config.maxFrameBytes);
    this.telephonyOptions = telephonyConnectionOptions(config.startTimeoutMs);
  }

  native(ws: WebSocket, identity: VerifiedIdentity): void {
    const { sessions } = this.options;
    const logger = new BoundLog(this.options.logger, { tenant_id: identity.tenantId, client: identity.clientAddress });
    const session = attachNativeConnection(ws, identity, this.deps, this.nativeOptions, logger);
    sessions.add(session, ws, { pinged: true });
    logger.debug({ via: identity.via }, 'stream connected');
  }

  telephony(ws: WebSocket, admission: TelephonyAdmission): void {
    const { sessions, stats } = this.options;
    const logger = new BoundLog(this.options.logger, { source: admission.source, client: admission.clientAddress });
    const register = (session: StreamSession): void => sessions.add(session, ws, { pinged: false });
    attachTelephonyConnection(ws, admission, this.deps, this.telephonyOptions, register, logger);
    stats.count(stats.telephonyConnections, admission.source);
    logger.debug('telephony stream connected');
  }
}
