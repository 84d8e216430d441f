/**
 * One load generator run, on the main thread: prepares the plan (credentials,
 * audio, frame size), splits the streams over K worker threads, starts them
 * on one clock origin, prints the phase markers (`loadgen: measuring`,
 * `loadgen: measured`) and, on a terminal, a progress line; ends the traffic
 * when the window closes (or at once when interrupted, even before the
 * threads are ready), collects the threads' final tallies, reads the records
 * back when asked (from where the backend ended before the run, noted first)
 * and returns the report, a read-back that failed included.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { streamKeyFor } from '../../shared/publishing/redis-streams/redis-streams-publisher';
import { FrameVerifier } from './frame-verifier';
import { LoopedAudioFrames, PatternFrames, type FrameSource } from './frame-content';
import { markKafka, verifyFromKafka, type KafkaMark } from './kafka-record-reader';
import { LatencyHistogram } from './latency-histogram';
import type { MediaFormat, StreamResult } from './load-stream';
import type { MeasureWindow, TallySnapshot } from './load-tally';
import { UsageError, type LoadgenOptions } from './loadgen-options';
import { buildReport, type LoadgenReport, type VerifyOutcome } from './loadgen-report';
import { markRedis, verifyFromRedis } from './redis-record-reader';
import { progressLine } from './report-table';
import { readPrivateKey } from './stream-credentials';
import type { FromThread, ThreadPlan, ToThread } from './thread-messages';
import { readWav, type WavAudio } from './wav-file';

/** A run that could not go on (a worker thread crashed): the CLI prints its code and message. */
export class LoadgenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const MEASURING_MARKER = 'loadgen: measuring';
export const MEASURED_MARKER = 'loadgen: measured';

/** The service's default REDIS_STREAM_KEY (src/shared/config/config-schema.ts). */
const DEFAULT_STREAM_KEY = 'ingest:audio';
/** The contract's default: 320 bytes (20 ms of 8 kHz 16-bit mono). */
const DEFAULT_FRAME_BYTES = 320;
const FINISH_TIMEOUT_MS = 30_000;
/** Streams keep trying to get through (resume) until the window's end plus this. */
const RETRY_GRACE_MS = 30_000;
const PROGRESS_EVERY_MS = 1000;

export interface RunIo {
  /** Markers, progress and warnings. */
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean };
  /** Aborting ends the traffic early (SIGINT). */
  readonly signal?: AbortSignal;
  /** How long streams get to finish after stop (default 30 s). */
  readonly finishTimeoutMs?: number;
}

interface AudioPlan {
  readonly media: MediaFormat;
  readonly frameBytes: number;
  readonly loopAudio?: Buffer;
}

function audioPlan(options: LoadgenOptions): AudioPlan {
  if (!options.wavFile) {
    if (options.dialect === 'twilio') {
      // Twilio streams mu-law at 8 kHz: 8 bytes a millisecond.
      const frameBytes = options.frameBytes ?? Math.max(1, Math.round(8 * options.frameMs));
      return { media: { encoding: 'mulaw', sample_rate: 8000, channels: 1 }, frameBytes };
    }
    const frameBytes = options.frameBytes ?? DEFAULT_FRAME_BYTES;
    return { media: { encoding: 'pcm_s16le', sample_rate: 8000, channels: 1 }, frameBytes };
  }
  let wav: WavAudio;
  try {
    wav = readWav(options.wavFile);
  } catch (err) {
    throw new UsageError([`--wav ${options.wavFile}: ${(err as Error).message}`]);
  }
  const samples = Math.round((wav.sampleRate * options.frameMs) / 1000);
  const frameBytes = samples * wav.channels * wav.bytesPerSample;
  if (frameBytes < 1)
    throw new UsageError([`--frame-ms ${options.frameMs} is less than one sample of ${options.wavFile}`]);
  if (options.dialect === 'twilio' && (wav.encoding !== 'mulaw' || wav.sampleRate !== 8000 || wav.channels !== 1))
    throw new UsageError(['the twilio dialect needs a mu-law, 8 kHz, mono WAV']);
  if (options.dialect === 'exotel' && (wav.encoding !== 'pcm_s16le' || wav.channels !== 1))
    throw new UsageError(['the exotel dialect needs a 16-bit PCM mono WAV']);
  return {
    media: { encoding: wav.encoding, sample_rate: wav.sampleRate, channels: wav.channels },
    frameBytes,
    loopAudio: wav.data,
  };
}

function privateKeyOf(options: LoadgenOptions): string | undefined {
  if (!options.privateKeyFile) return undefined;
  try {
    return readPrivateKey(options.privateKeyFile);
  } catch (err) {
    throw new UsageError([`--private-key ${options.privateKeyFile}: ${(err as Error).message}`]);
  }
}

const clock = (): number => performance.timeOrigin + performance.now();

/** Where the backend ended before the run: what the read-back finds up to there was stored by another run. */
type BackendMark =
  { readonly redis: string | undefined } | { readonly kafka: KafkaMark } | { readonly failed: unknown };

function redisKeyOf(options: LoadgenOptions): string {
  return streamKeyFor(options.verifyKey ?? DEFAULT_STREAM_KEY, options.tenant);
}

async function markBackend(options: LoadgenOptions): Promise<BackendMark | undefined> {
  try {
    if (options.verifyRedis) return { redis: await markRedis(options.verifyRedis, redisKeyOf(options)) };
    if (options.verifyKafka) return { kafka: await markKafka(options.verifyKafka, options.verifyTopic!) };
    return undefined;
  } catch (err) {
    return { failed: err }; // the read-back reports it, after the run
  }
}

export async function runLoadgen(options: LoadgenOptions, io: RunIo): Promise<LoadgenReport> {
  const audio = audioPlan(options);
  const privateKeyPem = privateKeyOf(options);
  const nonce = randomBytes(4).readUInt32LE(0);
  const mark = await markBackend(options);
  const threads = Math.max(1, Math.min(options.threads, options.streams));
  const workers: Worker[] = [];
  const latest: TallySnapshot[] = [];
  const finals: Array<{ tally: TallySnapshot; streams: StreamResult[] } | undefined> = [];
  let failure: Error | undefined;
  const waiters = new Set<() => void>();
  const wake = (): void => waiters.forEach((w) => w());
  const until = (condition: () => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (failure) {
          waiters.delete(check);
          reject(failure);
        } else if (condition()) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
    });

  let ready = 0;
  for (let k = 0; k < threads; k++) {
    const indices: number[] = [];
    for (let i = k; i < options.streams; i += threads) indices.push(i);
    const plan: ThreadPlan = {
      url: options.url,
      dialect: options.dialect,
      streams: options.streams,
      indices,
      interactionPrefix: options.interactionPrefix,
      rampMs: options.rampSeconds * 1000,
      frameMs: options.frameMs,
      frameBytes: audio.frameBytes,
      nonce,
      media: audio.media,
      loopAudio: audio.loopAudio ? new Uint8Array(audio.loopAudio) : undefined,
      maxRate: options.maxRate,
      windowFrames: options.windowFrames,
      idle: options.idle,
      insecure: options.insecure,
      finishTimeoutMs: io.finishTimeoutMs ?? FINISH_TIMEOUT_MS,
      progressEveryMs: PROGRESS_EVERY_MS,
      keepaliveMs: options.keepaliveSeconds * 1000,
      retryGraceMs: RETRY_GRACE_MS,
      credentials: {
        token: options.token,
        privateKeyPem,
        tenant: options.tenant,
        tenantClaim: options.tenantClaim,
        issuer: options.issuer,
        audience: options.audience,
        basic: options.basic,
        twilioAuthToken: options.twilioAuthToken,
        twilioUrl: options.twilioUrl,
      },
    };
    const worker = new Worker(path.join(__dirname, 'loadgen-thread.js'), { workerData: plan });
    workers.push(worker);
    finals.push(undefined);
    worker.on('message', (message: FromThread) => {
      if (message.type === 'ready') ready++;
      else if (message.type === 'progress') latest[k] = message.tally;
      else {
        latest[k] = message.tally;
        finals[k] = { tally: message.tally, streams: message.streams };
      }
      wake();
    });
    worker.on('error', (err) => {
      failure ??= new LoadgenError('thread_failed', `load thread ${k} failed: ${err.message}`);
      wake();
    });
    worker.on('exit', (code) => {
      if (!finals[k])
        failure ??= new LoadgenError('thread_failed', `load thread ${k} exited with ${code} before its final tally`);
      wake();
    });
  }

  let progressTimer: NodeJS.Timeout | undefined;
  const timers: NodeJS.Timeout[] = [];
  let measuring = false;
  let ended = false;
  let window: MeasureWindow | undefined;
  let endedAt = 0;
  // On a terminal the marker replaces the progress line; elsewhere the lines are exactly the markers.
  const clearLine = io.stderr.isTTY ? '\r\x1b[K' : '';
  const clearTimers = (): void => {
    clearInterval(progressTimer);
    for (const timer of timers) clearTimeout(timer);
  };
  const startMeasuring = (): void => {
    if (measuring || ended) return;
    measuring = true;
    io.stderr.write(`${clearLine}${MEASURING_MARKER}\n`);
  };
  /** `at`: the window's end when its timer ends it (timers may fire a hair early), else now (interrupted). */
  const end = (at = clock()): void => {
    if (ended) return;
    ended = true;
    clearTimers();
    endedAt = window ? Math.min(at, window.end) : 0;
    if (measuring) io.stderr.write(`${clearLine}${MEASURED_MARKER}\n`);
    // A thread told to stop before `go` answers with an empty tally.
    for (const worker of workers) worker.postMessage({ type: 'stop' } satisfies ToThread);
    wake();
  };
  // Listening before the threads are ready: an interruption while they start ends the run too.
  const onAbort = (): void => end();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (io.signal?.aborted) end();
    await until(() => ready === threads || ended);
    if (!ended) {
      const t0 = clock() + 20;
      const windowStart = t0 + (options.rampSeconds + options.warmupSeconds) * 1000;
      const span: MeasureWindow = { start: windowStart, end: windowStart + options.seconds * 1000 };
      window = span;
      for (const worker of workers) worker.postMessage({ type: 'go', t0, window: span } satisfies ToThread);
      timers.push(setTimeout(startMeasuring, Math.max(0, span.start - clock())));
      timers.push(
        setTimeout(
          () => {
            startMeasuring();
            end(span.end);
          },
          Math.max(0, span.end - clock()),
        ),
      );
      if (io.stderr.isTTY) progressTimer = startProgress(io.stderr, t0, latest, options.dialect === 'native');
    }

    await until(() => ended && finals.every((f) => f !== undefined));
    if (io.stderr.isTTY) io.stderr.write('\r\x1b[K');
    const done = finals.filter((f) => f !== undefined);
    const streams = done.flatMap((f) => f.streams);
    const frames: FrameSource = audio.loopAudio
      ? new LoopedAudioFrames(audio.loopAudio, audio.frameBytes)
      : new PatternFrames(audio.frameBytes, nonce);
    const verify = await verifyRecords(options, streams, frames, mark);
    return buildReport({
      streamsRequested: options.streams,
      frameMs: options.frameMs,
      realTime: !options.maxRate && !options.idle,
      confirmed: options.dialect === 'native',
      measuredSeconds: window ? Math.max(0, Math.round(endedAt - window.start) / 1000) : 0,
      tallies: done.map((f) => f.tally),
      streams,
      verify,
    });
  } finally {
    clearTimers();
    io.signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

async function verifyRecords(
  options: LoadgenOptions,
  streams: readonly StreamResult[],
  frames: FrameSource,
  mark: BackendMark | undefined,
): Promise<VerifyOutcome | undefined> {
  if (!mark) return undefined;
  try {
    if ('failed' in mark) throw mark.failed;
    return await readBack(options, streams, frames, mark);
  } catch (err) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    return {
      error: { code: typeof code === 'string' ? code : 'verify_failed', message: String(message ?? err) },
    };
  }
}

/** The read-back itself; a backend that cannot be read rejects. */
async function readBack(
  options: LoadgenOptions,
  streams: readonly StreamResult[],
  frames: FrameSource,
  mark: BackendMark,
): Promise<ReturnType<FrameVerifier['summary']>> {
  const verifier = new FrameVerifier(
    streams.map((s) => ({ interactionId: s.interaction_id, index: s.index, sent: s.sent, committed: s.committed })),
    frames,
  );
  const timeoutMs = options.verifyTimeoutSeconds * 1000;
  if ('redis' in mark)
    await verifyFromRedis(options.verifyRedis!, redisKeyOf(options), verifier, timeoutMs, mark.redis);
  else if ('kafka' in mark) {
    const partitions = await verifyFromKafka(
      options.verifyKafka!,
      options.verifyTopic!,
      verifier,
      timeoutMs,
      mark.kafka,
    );
    return { ...verifier.summary(), partitions };
  }
  return verifier.summary();
}

function startProgress(
  stderr: NodeJS.WritableStream,
  t0: number,
  latest: readonly TallySnapshot[],
  confirmed: boolean,
): NodeJS.Timeout {
  let last = { at: clock(), sent: 0, acked: 0 };
  return setInterval(() => {
    const now = clock();
    const tallies = latest.filter((t) => t !== undefined);
    const sent = tallies.reduce((n, t) => n + t.framesSent + t.framesResent, 0);
    const acked = tallies.reduce((n, t) => n + t.framesAcked, 0);
    const ack = new LatencyHistogram();
    for (const t of tallies) ack.add(t.ack);
    const seconds = Math.max(0.001, (now - last.at) / 1000);
    const errors = tallies.reduce(
      (n, t) => n + t.failedConnections + Object.values(t.refused).reduce((a, b) => a + b, 0),
      0,
    );
    const line = progressLine({
      elapsedS: Math.max(0, (now - t0) / 1000),
      streamsOpen: tallies.reduce((n, t) => n + t.streamsOpen, 0),
      framesPerS: (sent - last.sent) / seconds,
      acksPerS: confirmed ? (acked - last.acked) / seconds : null,
      ackP99Ms: confirmed ? Math.round(ack.percentile(99) * 10) / 10 : null,
      errors,
    });
    stderr.write(`\r${line}\x1b[K`);
    last = { at: now, sent, acked };
  }, PROGRESS_EVERY_MS);
}
