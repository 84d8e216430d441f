/**
 * The upgrade handler's door for telephony: finds the provider an upgrade
 * belongs to (none: the native protocol, or an unknown path), has it check its
 * proof, and takes a connection slot like native streams do. A tenant known at
 * the upgrade (Exotel's Basic user) also takes its MAX_STREAMS_PER_TENANT lease
 * there (a refusal is 429); a tenant learnt only from `start` (Twilio, Exotel by
 * account_sid or the default tenant) takes it when `start` names the tenant
 * (telephony-connection.ts: a refusal closes the stream with 1013).
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../../../shared/config/config-schema';
import type { ConnectionLimiter } from '../../admission/connection-limiter';
import type { TenantStreamLimit } from '../../admission/tenant-stream-leases';
import { withTenantLease } from '../../admission/upgrade-guard';
import { exotelProvider } from './exotel/exotel-source';
import type { ProviderAdmission, ProviderFactory, TelephonySource, TelephonyProvider } from './source-protocol';
import { twilioProvider } from './twilio/twilio-source';

const noLease = (): void => undefined;

/** Every telephony provider; a new one is added here. */
const PROVIDERS: readonly ProviderFactory[] = [exotelProvider, twilioProvider];

export interface TelephonyAdmission extends ProviderAdmission {
  readonly source: TelephonySource;
  readonly clientAddress: string;
  /** Gives the connection slot (and a lease taken at the upgrade) back; call once the socket has closed. */
  readonly release: () => void;
  /** Gives a lease taken at the upgrade back alone, once the server has closed the stream (idempotent). */
  readonly releaseLease: () => void;
  /**
   * Takes the lease of a tenant learnt from `start` (rejects with
   * tenant_stream_limit at the limit); absent when the upgrade took it
   * already or MAX_STREAMS_PER_TENANT is off.
   */
  readonly leaseAtStart?: (tenant: string) => Promise<() => void>;
}

export class TelephonyGate {
  private readonly providers: readonly TelephonyProvider[];

  constructor(
    config: Readonly<Config>,
    private readonly limiter: ConnectionLimiter,
    private readonly leases?: TenantStreamLimit,
  ) {
    this.providers = PROVIDERS.flatMap((factory) => factory(config) ?? []);
  }

  /** The provider this upgrade is for, or undefined. */
  route(path: string, req: IncomingMessage): TelephonyProvider | undefined {
    return this.providers.find((p) => p.claims(path, req));
  }

  /** Rejects with IngestError (401, 429) or resolves with the admitted connection. */
  async admit(provider: TelephonyProvider, req: IncomingMessage, clientAddress: string): Promise<TelephonyAdmission> {
    const admission = provider.admit(req, clientAddress);
    // A tenant learnt only from `start` is not known yet: such connections
    // share one per-source count (a key no real tenant id can be).
    const slot = this.limiter.acquire(admission.knownTenant ?? `\0${provider.source}`, clientAddress);
    const known = admission.knownTenant;
    const leases = this.leases;
    const taken =
      known === undefined ? { release: slot, releaseLease: noLease } : await withTenantLease(leases, known, slot);
    return {
      protocol: admission.protocol,
      knownTenant: admission.knownTenant,
      tenantFor: (start) => admission.tenantFor(start),
      source: provider.source,
      clientAddress,
      ...taken,
      ...(known === undefined && leases ? { leaseAtStart: (tenant: string) => leases.acquire(tenant) } : {}),
    };
  }
}
