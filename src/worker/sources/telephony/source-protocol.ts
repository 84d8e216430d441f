/**
 * The seam between telephony providers and the shared stream engine. A
 * provider module (exotel-source.ts, twilio-source.ts) says which upgrades are
 * its own, checks their proof, and translates its messages into the events
 * below; telephony-connection.ts turns those into StreamSession calls, so
 * buffering, publishing, metrics and shutdown are the same for every source.
 * A new provider is one module exporting a ProviderFactory, listed in
 * telephony-gate.ts.
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../../../shared/config/config-schema';
import type { MediaFormat } from '../../../shared/protocol';
import { splitTenantEntry } from '../../../shared/config/telephony-entries';
import type { JsonObject } from './telephony-message';

export type TelephonySource = 'exotel' | 'twilio';

/** Why a message had no effect (a bounded metric label). */
export type IgnoreReason =
  | 'invalid_json'
  | 'binary_frame'
  | 'unknown_event'
  | 'before_start'
  | 'unknown_track'
  | 'invalid_field'
  | 'duplicate_start';

/** What a start had cut to fit its limits (start-limits.ts; a bounded metric label). */
export type StartTrim = 'tracks' | 'text_field' | 'custom_parameters';

/** One stream of records a start opens: Exotel has one, Twilio one per track. */
export interface TrackSpec {
  /** The provider's track name; '' when it has none. */
  readonly track: string;
  /** The record stream_id; undefined lets the session make one. */
  readonly streamId: string | undefined;
}

export interface TelephonyStart {
  readonly callSid: string | undefined;
  readonly streamSid: string | undefined;
  readonly accountSid: string | undefined;
  /** At least one, each named once; the first also receives events that name no track. */
  readonly tracks: readonly TrackSpec[];
  /** What the provider's reading had to leave out (Twilio: listed tracks it does not have). */
  readonly trimmed: readonly StartTrim[];
  readonly media: MediaFormat;
  /** Goes into stream_started.metadata as it is. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** A provider message, as the shared engine understands it. `track` undefined: the first track. */
export type TelephonyEvent =
  | { readonly kind: 'connected' }
  | { readonly kind: 'start'; readonly start: TelephonyStart }
  | {
      readonly kind: 'media';
      readonly track: string | undefined;
      readonly chunk: number | undefined;
      readonly payload: unknown;
    }
  | {
      readonly kind: 'dtmf';
      readonly track: string | undefined;
      readonly digit: string;
      readonly durationMs: number | undefined;
    }
  | { readonly kind: 'mark'; readonly track: string | undefined; readonly name: string }
  | { readonly kind: 'stop'; readonly reason: string | undefined }
  | { readonly kind: 'ignored'; readonly reason: IgnoreReason; readonly detail: string };

/** One connection's dialect: provider messages in, events out. Pure: no I/O, no state it must share. */
export interface SourceProtocol {
  translate(message: JsonObject): TelephonyEvent;
}

/** What a provider learned while admitting an upgrade. */
export interface ProviderAdmission {
  readonly protocol: SourceProtocol;
  /** The tenant the credentials name, when known before `start` (connection limits count it). */
  readonly knownTenant: string | undefined;
  /** The stream's tenant once its start is known; undefined closes it with 1008 (tenant_unmapped). */
  tenantFor(start: TelephonyStart): string | undefined;
}

/** A telephony provider as the server sees it, built once per worker. */
export interface TelephonyProvider {
  readonly source: TelephonySource;
  /** Whether this upgrade is this provider's (by path, and on /v1/ingest by its Authorization). */
  claims(path: string, req: IncomingMessage): boolean;
  /** Checks the provider's proof; throws an IngestError with a 401 status when it fails. */
  admit(req: IncomingMessage, clientAddress: string): ProviderAdmission;
}

/** Returns the provider, or undefined when the configuration leaves it off. */
export type ProviderFactory = (config: Readonly<Config>) => TelephonyProvider | undefined;

/** An `account_sid=tenant` list as a lookup. */
export function accountTenants(entries: readonly string[]): (accountSid: string | undefined) => string | undefined {
  const map = new Map<string, string>();
  for (const entry of entries) {
    const parsed = splitTenantEntry(entry);
    if (parsed) map.set(parsed.key, parsed.tenant);
  }
  return (accountSid) => (accountSid === undefined ? undefined : map.get(accountSid));
}

/** Drops undefined values, so records carry only what the provider sent. */
export function compact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out;
}
