/** What an IngestClient is given, with the defaults and checks in one place. */
import type { BackoffOptions } from './backoff-policy.js';
import { IngestClientError } from './errors.js';
import type { WebSocketConstructor } from './websocket-transport.js';

export type TokenSource = string | (() => string | Promise<string>);

export interface MediaOptions {
  /** `pcm_s16le` (default), `mulaw`, `alaw` or `opus`. */
  readonly encoding?: string;
  /** 8000 (default) to 48000. */
  readonly sampleRate?: number;
  /** 1 (default) or 2. */
  readonly channels?: number;
}

export interface IngestClientOptions {
  /** The service's WebSocket URL, e.g. `wss://ingest.example.com/v1/ingest`. */
  readonly url: string;
  /** A JWT, or a provider called before every connection (so a resume uses a fresh token). */
  readonly token: TokenSource;
  readonly interactionId: string;
  readonly media?: MediaOptions;
  /** Sent in every `start` (at most 4 KiB as JSON); copied once, when the client is made. */
  readonly metadata?: Record<string, unknown>;
  /** Seq of the first frame. Default 1. */
  readonly firstSeq?: number;
  /** Cap on the bytes of frames held until committed (sent or not). Default 8 MiB. */
  readonly maxUncommittedBytes?: number;
  /** At the cap, `send` waits for room (default) or rejects with `buffer_full`. */
  readonly whenFull?: 'wait' | 'reject';
  /**
   * The service's MAX_FRAME_BYTES: a larger frame is refused locally (`frame_too_large`). Default 65536, or
   * maxUncommittedBytes if that is smaller; given, it must not be over maxUncommittedBytes.
   */
  readonly maxFrameBytes?: number;
  /** A connection that has not answered `started` within this is dropped and retried. Default 10000. */
  readonly connectTimeoutMs?: number;
  /**
   * Sends `{"type":"keepalive"}` every this many ms in which nothing else went out on the connection,
   * so that the service's IDLE_TIMEOUT_MS does not end a stream whose sends wait (a backend outage)
   * or that is silent. 0 disables. Default 10000.
   */
  readonly keepaliveIntervalMs?: number;
  readonly backoff?: BackoffOptions;
  /** Aborting closes the connection and rejects pending calls with `aborted`. */
  readonly signal?: AbortSignal;
  /** The WebSocket implementation (tests, other runtimes); it gets the token as a subprotocol. */
  readonly WebSocket?: WebSocketConstructor;
}

export const DEFAULTS = {
  encoding: 'pcm_s16le',
  sampleRate: 8000,
  channels: 1,
  firstSeq: 1,
  maxUncommittedBytes: 8 * 1024 * 1024,
  whenFull: 'wait',
  maxFrameBytes: 65536,
  connectTimeoutMs: 10_000,
  keepaliveIntervalMs: 10_000,
} as const;

/** The protocol's limit on `start.metadata`, serialised (docs/protocol.md 1.2). */
export const MAX_METADATA_BYTES = 4096;

/** What checking the options produced that the client keeps. */
export interface CheckedOptions {
  /** A JSON copy of `metadata`: serialisable by construction, and untouched by later changes to the caller's object. */
  readonly metadata: Record<string, unknown> | undefined;
  /** The frame size limit in force: never over the cap, so every frame accepted can fit the window. */
  readonly maxFrameBytes: number;
}

/** Throws `invalid_options` for options that cannot work, before anything connects. */
export function checkOptions(options: IngestClientOptions): CheckedOptions {
  if (typeof options.url !== 'string' || !/^wss?:\/\//i.test(options.url)) {
    throw invalid('url must be a ws:// or wss:// URL');
  }
  if (typeof options.token !== 'string' && typeof options.token !== 'function') {
    throw invalid('token must be a string or a function returning one');
  }
  if (typeof options.interactionId !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(options.interactionId)) {
    throw invalid('interactionId must be 1-128 characters of [A-Za-z0-9._:-]');
  }
  if (options.whenFull !== undefined && options.whenFull !== 'wait' && options.whenFull !== 'reject') {
    throw invalid("whenFull must be 'wait' or 'reject'");
  }
  for (const key of ['maxFrameBytes', 'connectTimeoutMs', 'maxUncommittedBytes'] as const) {
    const value = options[key];
    if (value !== undefined && !(value > 0)) throw invalid(`${key} must be positive`);
  }
  if (options.keepaliveIntervalMs !== undefined && !(options.keepaliveIntervalMs >= 0)) {
    throw invalid('keepaliveIntervalMs must be 0 (off) or positive');
  }
  const cap = options.maxUncommittedBytes ?? DEFAULTS.maxUncommittedBytes;
  if (options.maxFrameBytes !== undefined && options.maxFrameBytes > cap) {
    throw invalid(
      `maxFrameBytes (${options.maxFrameBytes}) is over maxUncommittedBytes (${cap}): such a frame could never be held`,
    );
  }
  return {
    metadata: snapshotMetadata(options.metadata),
    maxFrameBytes: options.maxFrameBytes ?? Math.min(DEFAULTS.maxFrameBytes, cap),
  };
}

function snapshotMetadata(metadata: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (metadata === undefined) return undefined;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalid('metadata must be a plain object');
  }
  let json: string;
  try {
    json = JSON.stringify(metadata);
  } catch {
    // JSON.stringify's message can quote the caller's data: say what is wrong without it.
    throw invalid('metadata cannot be serialised as JSON (a cycle, or a BigInt)');
  }
  const bytes = new TextEncoder().encode(json).byteLength;
  if (bytes > MAX_METADATA_BYTES) {
    throw invalid(`metadata is ${bytes} bytes as JSON, over the protocol's ${MAX_METADATA_BYTES}`);
  }
  return JSON.parse(json) as Record<string, unknown>;
}

function invalid(message: string): IngestClientError {
  return new IngestClientError('invalid_options', message);
}
