/**
 * Reading telephony providers' JSON: lenient where they are inconsistent
 * (snake_case or camelCase names, numbers as strings with unit suffixes, JSON in
 * binary frames), strict where it matters (the audio payload must be canonical
 * base64 of whole samples; anything else is refused rather than published).
 */
import { isSampleRate } from '../../../shared/protocol';
import type { Encoding } from '../../../shared/publishing/records';

export type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const OPEN_BRACE = 0x7b;

/**
 * One WebSocket message as a JSON object. Text frames are JSON; a binary frame
 * is read as JSON too when it starts with `{` (some clients send JSON as
 * binary, and `ws` 8 hands text frames over as Buffers as well).
 */
export function parseFrame(data: Buffer, isBinary: boolean): JsonObject | 'invalid_json' | 'binary_frame' {
  if (isBinary) {
    let i = 0;
    while (i < data.length && (data[i] === 0x20 || data[i] === 0x0a || data[i] === 0x0d || data[i] === 0x09)) i++;
    if (data[i] !== OPEN_BRACE) return 'binary_frame';
  }
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    return isObject(value) ? value : 'invalid_json';
  } catch {
    return 'invalid_json';
  }
}

const camelCache = new Map<string, string>();

function camel(snake: string): string {
  let name = camelCache.get(snake);
  if (name === undefined) {
    name = snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    camelCache.set(snake, name);
  }
  return name;
}

/** A field by its snake_case name, or by its camelCase twin (`stream_sid` / `streamSid`). */
export function field(obj: JsonObject | undefined, snake: string): unknown {
  if (obj === undefined) return undefined;
  const value = obj[snake];
  return value !== undefined ? value : obj[camel(snake)];
}

export function objectField(obj: JsonObject | undefined, snake: string): JsonObject | undefined {
  const value = field(obj, snake);
  return isObject(value) ? value : undefined;
}

/** A non-empty string, or a number given where a string was expected; trimmed. */
export function stringField(obj: JsonObject | undefined, snake: string): string | undefined {
  const value = field(obj, snake);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

export function numberField(obj: JsonObject | undefined, snake: string): number | undefined {
  return parseLenientNumber(field(obj, snake));
}

const NUMBER_WITH_UNIT = /^\s*([+-]?\d+(?:\.\d+)?)\s*([A-Za-z/]*)\s*$/;

/**
 * 8000, "8000", "8000Hz", "8kHz", "128kbps": a number, with a unit suffix
 * ignored except for a `k` prefix (thousands). Anything else is undefined.
 */
export function parseLenientNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = NUMBER_WITH_UNIT.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  return /^k/i.test(m[2]) ? n * 1000 : n;
}

/** A non-negative safe integer (chunk numbers), else undefined. */
export function counterField(obj: JsonObject | undefined, snake: string): number | undefined {
  const n = numberField(obj, snake);
  return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The rate when a stream may declare it (the native range), else undefined. */
export function validSampleRate(rate: number | undefined): number | undefined {
  return isSampleRate(rate) ? rate : undefined;
}

const MULAW = new Set(['mulaw', 'ulaw', 'mu-law', 'pcmu', 'g711u', 'g711-ulaw', 'g711_ulaw']);
const ALAW = new Set(['alaw', 'a-law', 'pcma', 'g711a', 'g711-alaw', 'g711_alaw']);

/**
 * The encoding a provider's format name means: mu-law (`mulaw`, `x-mulaw`,
 * `audio/x-mulaw;rate=8000`, `pcmu`, `ulaw`) or a-law; undefined for anything
 * else (`raw`, `linear16`, `base64`, `audio/x-raw`: the caller's default).
 */
export function encodingFromName(name: string | undefined): Encoding | undefined {
  if (name === undefined) return undefined;
  const bare = name
    .toLowerCase()
    .split(';', 1)[0]
    .trim()
    .replace(/^audio\//, '')
    .replace(/^x-/, '');
  if (MULAW.has(bare)) return 'mulaw';
  if (ALAW.has(bare)) return 'alaw';
  return undefined;
}

/** The `rate=` parameter of a MIME-style format name (`audio/L16;rate=16000`). */
export function rateFromName(name: string | undefined): number | undefined {
  const m = name === undefined ? null : /;\s*rate\s*=\s*(\d+)/i.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Bytes in one sample of every channel: what every payload must be a multiple of. */
export function bytesPerSample(encoding: Encoding, channels: number): number {
  return (encoding === 'pcm_s16le' ? 2 : 1) * channels;
}

export type DecodedPayload =
  { readonly ok: true; readonly data: Buffer } | { readonly ok: false; readonly problem: string };

/**
 * Decodes a base64 payload, refusing what Buffer.from would silently repair
 * (foreign characters, whitespace, wrong padding, stray bits): the payload must
 * be exactly what its bytes encode to, padding optional. A decoded length that
 * is not whole samples means lost or extra bytes, and is refused too.
 */
export function decodePayload(payload: unknown, sampleBytes: number): DecodedPayload {
  if (typeof payload !== 'string') return { ok: false, problem: 'payload is missing or not a string' };
  const data = Buffer.from(payload, 'base64');
  const canonical = data.toString('base64');
  if (canonical !== payload && (payload.length % 4 === 0 || canonical.replace(/=+$/, '') !== payload)) {
    return { ok: false, problem: 'payload is not valid base64' };
  }
  if (data.length % sampleBytes !== 0) {
    return {
      ok: false,
      problem: `payload of ${data.length} bytes is not a whole number of ${sampleBytes}-byte samples`,
    };
  }
  return { ok: true, data };
}
