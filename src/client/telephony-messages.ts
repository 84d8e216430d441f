/**
 * The events a telephony provider sends over its WebSocket, as Exotel and
 * Twilio write them (docs/telephony.md): built in snake_case, then shaped into
 * the casing and number style a given provider path uses. The telephony
 * simulator of the tests and the load generator's Exotel and Twilio dialects
 * both build their messages here.
 */
export type TelephonyProvider = 'exotel' | 'twilio';

export interface MessageShape {
  /** snake_case (Exotel's documented form) or camelCase (Twilio, some Exotel paths). */
  readonly casing: 'snake' | 'camel';
  /** Numbers as strings ("8000"), as the providers mostly send them. */
  readonly stringNumbers: boolean;
}

export interface CallIds {
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
}

export interface StartDetails {
  /** Twilio tracks (default ["inbound"]). */
  readonly tracks?: readonly string[];
  /** Exotel: written into media_format; omit to rely on the URL's sample-rate. */
  readonly sampleRate?: number;
  /** Exotel media_format.encoding; default "base64" as many Exotel examples show. */
  readonly encoding?: string;
  readonly from?: string;
  readonly to?: string;
  readonly customParameters?: Record<string, string>;
}

/** The shape each provider uses by default. */
export function defaultShape(provider: TelephonyProvider): MessageShape {
  return { casing: provider === 'twilio' ? 'camel' : 'snake', stringNumbers: true };
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Renames keys to camelCase and numbers to strings as `shape` says; custom parameter keys are the caller's. */
export function shapeMessage(value: unknown, shape: MessageShape, key = ''): unknown {
  if (typeof value === 'number') return shape.stringNumbers ? String(value) : value;
  if (Array.isArray(value)) return value.map((v) => shapeMessage(v, shape));
  if (value === null || typeof value !== 'object') return value;
  if (key === 'custom_parameters') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[shape.casing === 'camel' ? camel(k) : k] = shapeMessage(v, shape, k);
  return out;
}

export function connectedEvent(provider: TelephonyProvider): Record<string, unknown> {
  return provider === 'twilio' ? { event: 'connected', protocol: 'Call', version: '1.0.0' } : { event: 'connected' };
}

export function startEvent(
  provider: TelephonyProvider,
  ids: CallIds,
  details: StartDetails = {},
): Record<string, unknown> {
  const start: Record<string, unknown> = {
    stream_sid: ids.streamSid,
    call_sid: ids.callSid,
    account_sid: ids.accountSid,
  };
  if (provider === 'twilio') {
    start.tracks = details.tracks ?? ['inbound'];
    start.media_format = { encoding: 'audio/x-mulaw', sample_rate: 8000, channels: 1 };
  } else {
    start.from = details.from ?? '+919876543210';
    start.to = details.to ?? '+918047491899';
    const format: Record<string, unknown> = { encoding: details.encoding ?? 'base64', bit_rate: '128kbps' };
    if (details.sampleRate !== undefined) format.sample_rate = details.sampleRate;
    start.media_format = format;
  }
  start.custom_parameters = details.customParameters ?? {};
  return { event: 'start', stream_sid: ids.streamSid, start };
}

/** Media chunk `chunk` (from 1), `frameMs` of audio each; Twilio names the track. */
export function mediaEvent(
  provider: TelephonyProvider,
  streamSid: string,
  chunk: number,
  payload: Buffer,
  options: { readonly track?: string; readonly frameMs?: number } = {},
): Record<string, unknown> {
  const media: Record<string, unknown> = {
    chunk,
    timestamp: chunk * (options.frameMs ?? 20),
    payload: payload.toString('base64'),
  };
  if (provider === 'twilio') media.track = options.track ?? 'inbound';
  return { event: 'media', stream_sid: streamSid, media };
}

/** The stop event; Exotel's reason defaults to "callended", Twilio sends none. */
export function stopEvent(provider: TelephonyProvider, ids: CallIds, reason?: string): Record<string, unknown> {
  const why = reason ?? (provider === 'exotel' ? 'callended' : undefined);
  const stop: Record<string, unknown> = { call_sid: ids.callSid, account_sid: ids.accountSid };
  if (why !== undefined) stop.reason = why;
  return { event: 'stop', stream_sid: ids.streamSid, stop };
}
