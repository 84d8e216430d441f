/**
 * The load generator's command line (docs/loadgen.md; the flag names are a
 * public contract that scripts rely on): parsed and checked all at once into
 * `LoadgenOptions`, or a `UsageError` listing every problem (exit 2).
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { MAX_PATTERN_FRAME_BYTES } from './frame-content';

export type Dialect = 'native' | 'exotel' | 'twilio';

export interface LoadgenOptions {
  readonly url: string;
  readonly streams: number;
  readonly seconds: number;
  readonly rampSeconds: number;
  readonly warmupSeconds: number;
  readonly privateKeyFile?: string;
  readonly token?: string;
  readonly tenant: string;
  readonly tenantClaim: string;
  readonly issuer?: string;
  readonly audience?: string;
  readonly dialect: Dialect;
  readonly basic?: string;
  readonly twilioAuthToken?: string;
  readonly twilioUrl?: string;
  /** Undefined: 320, or 20 ms of 8 kHz mu-law for Twilio (8 bytes a millisecond). */
  readonly frameBytes?: number;
  readonly frameMs: number;
  readonly wavFile?: string;
  readonly maxRate: boolean;
  readonly windowFrames: number;
  readonly idle: boolean;
  readonly keepaliveSeconds: number;
  readonly threads: number;
  readonly interactionPrefix: string;
  readonly verifyRedis?: string;
  readonly verifyKey?: string;
  readonly verifyKafka?: string;
  readonly verifyTopic?: string;
  readonly verifyTimeoutSeconds: number;
  readonly json: boolean;
  readonly insecure: boolean;
}

export const USAGE = `usage: ingest-loadgen --url ws://host:port/v1/ingest --streams N --seconds S
  [--ramp-seconds R] [--warmup-seconds W]
  [--private-key FILE | --token JWT] [--tenant T] [--tenant-claim C] [--issuer I] [--audience A]
  [--dialect native|exotel|twilio] [--basic user:password] [--twilio-auth-token TOKEN] [--twilio-url URL]
  [--frame-bytes B] [--frame-ms M] [--wav FILE] [--max-rate] [--window-frames F] [--idle]
  [--keepalive-seconds S] [--threads K] [--interaction-prefix P]
  [--verify redis://host:port] [--verify-key KEY] [--verify-kafka host:port] [--verify-topic T]
  [--verify-timeout-seconds T] [--insecure] [--json]
See docs/loadgen.md.`;

/** The server acks every ACK_INTERVAL-th frame (default 10): a smaller --window-frames would wait forever. */
export const MIN_WINDOW_FRAMES = 10;

/** Bad usage: every problem found, for one message (exit 2). */
export class UsageError extends Error {
  readonly code = 'usage';

  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

const FLAGS = {
  url: { type: 'string' },
  streams: { type: 'string' },
  seconds: { type: 'string' },
  'ramp-seconds': { type: 'string', default: '0' },
  'warmup-seconds': { type: 'string', default: '0' },
  'private-key': { type: 'string' },
  token: { type: 'string' },
  tenant: { type: 'string', default: 'loadgen' },
  'tenant-claim': { type: 'string', default: 'tenant_id' },
  issuer: { type: 'string' },
  audience: { type: 'string' },
  dialect: { type: 'string', default: 'native' },
  basic: { type: 'string' },
  'twilio-auth-token': { type: 'string' },
  'twilio-url': { type: 'string' },
  'frame-bytes': { type: 'string' },
  'frame-ms': { type: 'string', default: '20' },
  wav: { type: 'string' },
  'max-rate': { type: 'boolean', default: false },
  'window-frames': { type: 'string', default: '200' },
  idle: { type: 'boolean', default: false },
  'keepalive-seconds': { type: 'string', default: '15' },
  threads: { type: 'string' },
  'interaction-prefix': { type: 'string' },
  verify: { type: 'string' },
  'verify-key': { type: 'string' },
  'verify-kafka': { type: 'string' },
  'verify-topic': { type: 'string' },
  'verify-timeout-seconds': { type: 'string', default: '30' },
  insecure: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

/** `undefined` for --help; throws UsageError for anything wrong. */
export function parseLoadgenArgs(argv: readonly string[]): LoadgenOptions | undefined {
  let values: ReturnType<typeof parseArgs<{ options: typeof FLAGS; args: string[]; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError([(err as Error).message]);
  }
  if (values.help) return undefined;
  const problems: string[] = [];
  const number = (flag: keyof typeof FLAGS, min: number, integer: boolean, max = Infinity): number => {
    const raw = values[flag];
    const n = Number(raw);
    if (
      typeof raw !== 'string' ||
      raw.trim() === '' ||
      !Number.isFinite(n) ||
      n < min ||
      n > max ||
      (integer && !Number.isInteger(n))
    ) {
      const kind = integer ? 'an integer' : 'a number';
      problems.push(
        `--${flag} ${raw === undefined ? 'is required' : `"${String(raw)}" is not ${kind} in ${min}..${max}`}`,
      );
      return min;
    }
    return n;
  };
  if (!values.url) problems.push('--url is required');
  else if (!/^wss?:\/\//.test(values.url)) problems.push(`--url "${values.url}" is not a ws:// or wss:// URL`);
  const streams = number('streams', 1, true, 1_000_000);
  const seconds = number('seconds', 0.1, false);
  const rampSeconds = number('ramp-seconds', 0, false);
  const warmupSeconds = number('warmup-seconds', 0, false);
  const frameMs = number('frame-ms', 1, false, 10_000);
  const frameBytes =
    values['frame-bytes'] === undefined ? undefined : number('frame-bytes', 1, true, MAX_PATTERN_FRAME_BYTES);
  // Below the server's ACK_INTERVAL (10 by default) no ack would ever open the window again.
  const windowFrames = number('window-frames', MIN_WINDOW_FRAMES, true);
  const keepaliveSeconds = number('keepalive-seconds', 0.1, false);
  const verifyTimeoutSeconds = number('verify-timeout-seconds', 1, false);
  const cores = Math.max(1, os.availableParallelism());
  const threads =
    values.threads === undefined
      ? Math.min(cores, Math.max(1, Math.ceil(streams / 1000)))
      : number('threads', 1, true, 256);
  const dialect = values.dialect as Dialect;
  if (!['native', 'exotel', 'twilio'].includes(dialect))
    problems.push(`--dialect "${values.dialect}" is not native, exotel or twilio`);
  if (values['private-key'] && values.token) problems.push('--private-key and --token exclude each other');
  if (dialect === 'native' && !values['private-key'] && !values.token)
    problems.push('the native dialect needs --private-key FILE or --token JWT');
  if (dialect !== 'native' && (values['private-key'] || values.token))
    problems.push(`--private-key and --token are for the native dialect, not ${dialect}`);
  if (values.basic !== undefined && !values.basic.includes(':')) problems.push('--basic must be user:password');
  if (values.basic !== undefined && dialect !== 'exotel') problems.push('--basic is for the exotel dialect');
  if (dialect === 'twilio' && !values['twilio-auth-token'])
    problems.push('the twilio dialect needs --twilio-auth-token');
  if (values['twilio-url'] !== undefined && !/^wss?:\/\//.test(values['twilio-url']))
    problems.push(`--twilio-url "${values['twilio-url']}" is not a ws:// or wss:// URL`);
  if (values['max-rate'] && values.idle) problems.push('--max-rate and --idle exclude each other');
  if (values.wav !== undefined && values['frame-bytes'] !== undefined)
    problems.push('--wav sets the frame size from the file and --frame-ms; leave out --frame-bytes');
  if (values.verify !== undefined && !/^rediss?:\/\//.test(values.verify))
    problems.push(`--verify "${values.verify}" is not a redis:// or rediss:// URL`);
  if (values.verify !== undefined && values['verify-kafka'] !== undefined)
    problems.push('--verify and --verify-kafka exclude each other');
  if (values['verify-kafka'] !== undefined && !values['verify-topic'])
    problems.push('--verify-kafka needs --verify-topic');
  const prefix = values['interaction-prefix'] ?? `loadgen-${randomBytes(4).toString('hex')}`;
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(prefix))
    problems.push(`--interaction-prefix "${prefix}" must be 1-100 characters of [A-Za-z0-9._:-]`);
  if (problems.length > 0) throw new UsageError(problems);
  return {
    url: values.url!,
    streams,
    seconds,
    rampSeconds,
    warmupSeconds,
    privateKeyFile: values['private-key'],
    token: values.token,
    tenant: values.tenant,
    tenantClaim: values['tenant-claim'],
    issuer: values.issuer,
    audience: values.audience,
    dialect,
    basic: values.basic,
    twilioAuthToken: values['twilio-auth-token'],
    twilioUrl: values['twilio-url'],
    frameBytes,
    frameMs,
    wavFile: values.wav,
    maxRate: values['max-rate'],
    windowFrames,
    idle: values.idle,
    keepaliveSeconds,
    threads: Math.min(threads, streams),
    interactionPrefix: prefix,
    verifyRedis: values.verify,
    verifyKey: values['verify-key'],
    verifyKafka: values['verify-kafka'],
    verifyTopic: values['verify-topic'],
    verifyTimeoutSeconds,
    json: values.json,
    insecure: values.insecure,
  };
}
