/**
 * `ingest-replay`'s command line (docs/consumer.md; the flag names are a
 * contract scripts rely on): parsed and checked all at once into
 * `ReplayOptions`, or a `UsageError` listing every problem (exit 2).
 */
import { parseArgs } from 'node:util';
import type { WavOutput } from '../../../packages/consumer/src/index';

export type Backend =
  | {
      readonly kind: 'redis';
      /** The address to connect with, credentials included: never printed or stored. */
      readonly url: string;
      /** The address without its user and password: what lines, messages and sidecars show. */
      readonly shown: string;
      readonly key: string;
    }
  | { readonly kind: 'kafka'; readonly brokers: readonly string[]; readonly shown: string; readonly topic: string };

export interface ReplayOptions {
  readonly backend: Backend;
  readonly interaction?: string;
  readonly tenant?: string;
  readonly since?: Date;
  readonly until?: Date;
  readonly out: string;
  readonly group?: string;
  readonly consumer: string;
  readonly follow: boolean;
  /** --follow: how long a native call whose last connection may resume stays open with nothing new. */
  readonly resumeWaitMs: number;
  readonly wavFormat: WavOutput;
  readonly fillGaps: boolean;
}

export const USAGE = `usage: ingest-replay --from redis://host:port --key <stream key> --out DIR
       ingest-replay --from kafka://broker:port[,broker:port] --topic <topic> --out DIR
  [--interaction ID | --tenant T] [--since ISO] [--until ISO]
  [--group G [--consumer C]] [--follow [--resume-wait-seconds S]]
  [--wav-format pcm16|as-sent] [--gap-fill silence|none]
Writes DIR/<interaction_id>.wav and DIR/<interaction_id>.json per call and prints one line per call.
Exit: 0 ok, 3 a gap was found, 4 a record or call could not be read or written, 2 usage, 1 backend failure.
See docs/consumer.md.`;

/** Bad usage: every problem found, for one message (exit 2). */
export class UsageError extends Error {
  readonly code = 'usage';

  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/** An ISO-8601 date and time with Z or an offset (seconds and fractions optional). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

const FLAGS = {
  from: { type: 'string' },
  key: { type: 'string' },
  topic: { type: 'string' },
  interaction: { type: 'string' },
  tenant: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  out: { type: 'string' },
  group: { type: 'string' },
  consumer: { type: 'string', default: 'ingest-replay' },
  follow: { type: 'boolean', default: false },
  'resume-wait-seconds': { type: 'string' },
  'wav-format': { type: 'string', default: 'pcm16' },
  'gap-fill': { type: 'string', default: 'silence' },
  help: { type: 'boolean', default: false },
} as const;

/** undefined for --help (print the usage, exit 0). */
export function parseReplayOptions(argv: readonly string[]): ReplayOptions | undefined {
  let values: ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError([(error as Error).message]);
  }
  if (values.help) return undefined;
  const problems: string[] = [];
  const time = (flag: 'since' | 'until'): Date | undefined => {
    const text = values[flag];
    if (text === undefined) return undefined;
    // new Date() takes "1" or "March 1", and a time without an offset as local time: a range must be exact.
    const date = ISO_TIME.test(text) ? new Date(text) : new Date(NaN);
    if (Number.isNaN(date.getTime()))
      problems.push(`--${flag} "${text}" is not an ISO-8601 time with Z or an offset (2026-03-01T09:00:00Z)`);
    return date;
  };
  const since = time('since');
  const until = time('until');
  if (since && until && since.getTime() >= until.getTime()) problems.push('--since must be before --until');
  if (values.interaction !== undefined && values.tenant !== undefined)
    problems.push('give --interaction or --tenant, not both');
  if (!values.out) problems.push('--out DIR is required');
  // Combinations that would never end, or leave a group's entries pending for ever, or do nothing.
  if (values.follow && values.until !== undefined)
    problems.push('--follow and --until: a follow never reaches --until');
  const filters = (['tenant', 'interaction', 'since', 'until'] as const).filter((f) => values[f] !== undefined);
  if (values.group !== undefined && filters.length > 0)
    problems.push(
      `--group with ${filters.map((f) => `--${f}`).join(', ')}: a group must read everything ` +
        '(what a filter leaves out would stay pending for ever); use a run without --group',
    );
  if (values['resume-wait-seconds'] !== undefined && !values.follow)
    problems.push('--resume-wait-seconds is for --follow');
  const resumeWaitText = values['resume-wait-seconds'] ?? '60';
  const resumeWait = Number(resumeWaitText);
  if (resumeWaitText.trim() === '' || !Number.isFinite(resumeWait) || resumeWait < 0)
    problems.push(`--resume-wait-seconds "${resumeWaitText}" is not a number of seconds`);
  const wavFormat = values['wav-format'];
  if (wavFormat !== 'pcm16' && wavFormat !== 'as-sent') problems.push(`--wav-format "${wavFormat}": pcm16 or as-sent`);
  const gapFill = values['gap-fill'];
  if (gapFill !== 'silence' && gapFill !== 'none') problems.push(`--gap-fill "${gapFill}": silence or none`);
  const key = values.key === undefined ? undefined : fillKey(values.key, values.tenant, values.interaction, problems);
  const backend = backendOf(values.from, key, values.topic, problems);
  if (problems.length > 0 || !backend) throw new UsageError(problems);
  return {
    backend,
    ...(values.interaction === undefined ? {} : { interaction: values.interaction }),
    ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    out: values.out!,
    ...(values.group === undefined ? {} : { group: values.group }),
    consumer: values.consumer,
    follow: values.follow,
    resumeWaitMs: resumeWait * 1000,
    wavFormat: wavFormat === 'as-sent' ? 'as_sent' : 'pcm16',
    fillGaps: gapFill === 'silence',
  };
}

function backendOf(
  from: string | undefined,
  key: string | undefined,
  topic: string | undefined,
  problems: string[],
): Backend | undefined {
  if (!from) {
    problems.push('--from redis://host:port or kafka://broker:port is required');
    return undefined;
  }
  const shown = withoutCredentials(from);
  if (/^rediss?:\/\//.test(from)) {
    if (!key) problems.push('--key <stream key> is required with --from redis://');
    if (topic) problems.push('--topic is for kafka://; Redis takes --key');
    return key ? { kind: 'redis', url: from, shown, key } : undefined;
  }
  if (from.startsWith('kafka://')) {
    if (!topic) problems.push('--topic <topic> is required with --from kafka://');
    if (key) problems.push('--key is for redis://; Kafka takes --topic');
    const brokers = from
      .slice('kafka://'.length)
      .split(',')
      .filter(Boolean)
      .map((b) => b.slice(b.lastIndexOf('@') + 1));
    if (brokers.length === 0) problems.push('--from kafka:// names no broker');
    return topic && brokers.length > 0
      ? { kind: 'kafka', brokers, shown: `kafka://${brokers.join(',')}`, topic }
      : undefined;
  }
  problems.push(`--from "${shown}": redis://host:port, rediss://… or kafka://broker:port`);
  return undefined;
}

/** An address as it may be shown: its user and password (redis://user:pass@host) removed. */
export function withoutCredentials(address: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(address)?.[0];
  if (!scheme) return address.replace(/^[^@/]*@/, '');
  const rest = address.slice(scheme.length);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  return at < 0 ? address : scheme + rest.slice(at + 1);
}

/** A key with REDIS_STREAM_KEY's placeholders filled from --tenant / --interaction (one left unfilled is refused). */
function fillKey(key: string, tenant: string | undefined, interaction: string | undefined, problems: string[]): string {
  const values: Record<string, string | undefined> = { tenant_id: tenant, interaction_id: interaction };
  return key.replace(/\{(tenant_id|interaction_id)\}/g, (placeholder, name: string) => {
    const value = values[name];
    if (value !== undefined) return value;
    problems.push(`--key "${key}" has ${placeholder}: give --${name === 'tenant_id' ? 'tenant' : 'interaction'}`);
    return placeholder;
  });
}
