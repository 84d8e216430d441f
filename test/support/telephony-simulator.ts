/**
 * Plays a telephony provider's side of a call over a WebSocket, as Exotel or
 * Twilio would: connected, start, media every 20 ms (or as fast as possible),
 * dtmf and mark in between, stop, then the close. Used by the tests and usable
 * by load tools. It records exactly what it sent (per track: the chunks and a
 * SHA-256 of their concatenation) so a backend's contents can be compared.
 *
 * `buildCall` makes the message script and `playCall` sends it, so a test can
 * alter the script (duplicate a chunk, corrupt a payload) in between.
 */
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import {
  connectedEvent,
  mediaEvent,
  shapeMessage,
  startEvent,
  stopEvent,
  type TelephonyProvider,
} from '../../src/client/telephony-messages';

export type { TelephonyProvider };

export interface SimulatorOptions {
  readonly provider?: TelephonyProvider;
  /** snake_case (Exotel's documented form) or camelCase (Twilio, some Exotel paths). */
  readonly casing?: 'snake' | 'camel';
  /** Numbers as strings ("8000", "2"), as the providers mostly send them. Default true. */
  readonly stringNumbers?: boolean;
  /** JSON in binary frames instead of text frames. */
  readonly binaryJson?: boolean;
  /** Written into start's media_format; omit to rely on the URL's sample-rate. */
  readonly sampleRate?: number;
  /** media_format.encoding (Exotel); default "base64" as many Exotel examples show. */
  readonly encoding?: string;
  readonly chunks?: number;
  /** Bytes per media message; default 320 (Exotel PCM, 20 ms at 8 kHz), 160 for Twilio mu-law. */
  readonly chunkBytes?: number;
  /** Delay between media messages; 0 (default) sends as fast as the socket takes them. */
  readonly cadenceMs?: number;
  /** Twilio tracks; default ["inbound"]. */
  readonly tracks?: readonly string[];
  readonly dtmf?: ReadonlyArray<{ readonly afterChunk: number; readonly digit: string; readonly durationMs?: number }>;
  readonly marks?: ReadonlyArray<{ readonly afterChunk: number; readonly name: string }>;
  /** The stop's reason (Exotel); false: no stop at all, the socket just closes. */
  readonly stop?: false | { readonly reason?: string };
  readonly callSid?: string;
  readonly streamSid?: string;
  readonly accountSid?: string;
  readonly from?: string;
  readonly to?: string;
  readonly customParameters?: Record<string, string>;
  /** Varies the audio bytes between calls. */
  readonly seed?: number;
}

export interface SentTrack {
  readonly track: string;
  /** chunks[i] is chunk number i + 1. */
  readonly chunks: Buffer[];
  sha256(): string;
}

export interface ScriptMessage {
  /** A JSON message, or raw text; a Buffer is sent as a binary frame as it is. */
  readonly body: Record<string, unknown> | string | Buffer;
  readonly media?: boolean;
}

export interface SimulatedCall {
  readonly provider: TelephonyProvider;
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
  readonly options: SimulatorOptions;
  readonly tracks: Map<string, SentTrack>;
  readonly script: ScriptMessage[];
}

export interface PlayOptions {
  readonly headers?: Record<string, string>;
  readonly binaryJson?: boolean;
  readonly cadenceMs?: number;
  /** After the script: wait for the server to close (after stop), close ourselves, or drop the TCP connection. */
  readonly end?: 'wait_for_server' | 'close' | 'terminate';
}

export interface PlayResult {
  readonly close: { readonly code: number; readonly reason: string };
  /** Messages the server sent (telephony gets none). */
  readonly received: number;
}

export class UpgradeRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly challenge?: string,
  ) {
    super(`upgrade refused with ${status}: ${body}`);
  }
}

let callCounter = 0;

function pseudoRandomBytes(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Builds the message script of one call and the audio it carries. */
export function buildCall(options: SimulatorOptions = {}): SimulatedCall {
  const provider = options.provider ?? 'exotel';
  const n = ++callCounter;
  const seed = options.seed ?? n;
  const casing = options.casing ?? (provider === 'twilio' ? 'camel' : 'snake');
  const stringNumbers = options.stringNumbers ?? true;
  const chunks = options.chunks ?? 50;
  const chunkBytes = options.chunkBytes ?? (provider === 'twilio' ? 160 : 320);
  const callSid = options.callSid ?? `${provider === 'twilio' ? 'CA' : ''}call${process.pid}x${n}x${seed}`;
  const streamSid = options.streamSid ?? `${provider === 'twilio' ? 'MZ' : ''}stream${process.pid}x${n}`;
  const accountSid = options.accountSid ?? (provider === 'twilio' ? 'AC-test' : 'exotel-account');
  const trackNames = provider === 'twilio' ? (options.tracks ?? ['inbound']) : [''];
  const tracks = new Map<string, SentTrack>();
  trackNames.forEach((track, t) => {
    const list = Array.from({ length: chunks }, (_, i) =>
      pseudoRandomBytes(seed * 7919 + t * 104729 + i + 1, chunkBytes),
    );
    tracks.set(track, {
      track,
      chunks: list,
      sha256: () => createHash('sha256').update(Buffer.concat(list)).digest('hex'),
    });
  });

  const script: ScriptMessage[] = [];
  let sequence = 0;
  const push = (body: Record<string, unknown>, media = false): void => {
    const withSeq = body.event === 'connected' ? body : { ...body, sequence_number: ++sequence };
    script.push({ body: shapeMessage(withSeq, { casing, stringNumbers }) as Record<string, unknown>, media });
  };
  const ids = { callSid, streamSid, accountSid };
  push(connectedEvent(provider));
  push(
    startEvent(provider, ids, {
      tracks: trackNames,
      sampleRate: options.sampleRate,
      encoding: options.encoding,
      from: options.from,
      to: options.to,
      customParameters: options.customParameters,
    }),
  );
  for (let chunk = 1; chunk <= chunks; chunk++) {
    for (const [track, sent] of tracks)
      push(mediaEvent(provider, streamSid, chunk, sent.chunks[chunk - 1], { track }), true);
    for (const d of options.dtmf ?? []) {
      if (d.afterChunk !== chunk) continue;
      const dtmf: Record<string, unknown> = { digit: d.digit };
      if (d.durationMs !== undefined) dtmf.duration = d.durationMs;
      if (provider === 'twilio') dtmf.track = 'inbound_track';
      push({ event: 'dtmf', stream_sid: streamSid, dtmf });
    }
    for (const m of options.marks ?? [])
      if (m.afterChunk === chunk) push({ event: 'mark', stream_sid: streamSid, mark: { name: m.name } });
  }
  if (options.stop !== false) push(stopEvent(provider, ids, options.stop?.reason));
  return { provider, callSid, streamSid, accountSid, options, tracks, script };
}

/** Connects (Basic credentials may sit in the URL's userinfo, as Exotel's applet takes them). */
export function connectProvider(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => reject(new UpgradeRefusedError(res.statusCode ?? 0, body, res.headers['www-authenticate'])));
    });
    ws.once('error', reject);
  });
}

/** Sends the script over a new connection and ends it as `end` says. */
export async function playCall(url: string, call: SimulatedCall, options: PlayOptions = {}): Promise<PlayResult> {
  const ws = await connectProvider(url, options.headers);
  let received = 0;
  ws.on('message', () => received++);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const binary = options.binaryJson ?? call.options.binaryJson ?? false;
  const cadence = options.cadenceMs ?? call.options.cadenceMs ?? 0;
  for (const message of call.script) {
    if (ws.readyState !== WebSocket.OPEN) break;
    if (Buffer.isBuffer(message.body)) ws.send(message.body, { binary: true });
    else {
      const text = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
      ws.send(binary ? Buffer.from(text) : text, { binary });
    }
    if (message.media && cadence > 0) await new Promise((r) => setTimeout(r, cadence));
  }
  const end = options.end ?? (call.options.stop === false ? 'close' : 'wait_for_server');
  if (end === 'close') ws.close(1000);
  else if (end === 'terminate') ws.terminate();
  const close = await closed;
  return { close, received };
}

/** buildCall + playCall. */
export async function simulateCall(
  url: string,
  options: SimulatorOptions & PlayOptions = {},
): Promise<{ call: SimulatedCall; result: PlayResult }> {
  const call = buildCall(options);
  const result = await playCall(url, call, options);
  return { call, result };
}
