/**
 * What one telephony `start` may make a worker hold. A provider's start is
 * read leniently, but a start is also the one message that creates sessions
 * and metadata copied into a record: unbounded, one 60 KB message could open
 * thousands of sessions or carry megabytes of metadata. The limits:
 * - ids (call_sid, stream_sid, account_sid) of at most MAX_TELEPHONY_ID_CHARS,
 *   else the start is refused (1008 invalid_start): a cut id would name another call;
 * - every other text field of the metadata cut to MAX_TELEPHONY_TEXT_CHARS;
 * - the whole metadata at most MAX_METADATA_BYTES (a native start's limit),
 *   custom parameters left out when they do not fit;
 * - tracks: the providers' own (twilio-source.ts: inbound and outbound, once each).
 */
import { INTERACTION_ID_PATTERN, MAX_METADATA_BYTES, serialisedBytes } from '../../../shared/protocol';
import type { StartTrim, TelephonyStart } from './source-protocol';

export const MAX_TELEPHONY_ID_CHARS = 128;
export const MAX_TELEPHONY_TEXT_CHARS = 256;

/** Why this start cannot open a stream, or undefined when its ids are usable. */
export function startIdProblem(start: TelephonyStart): string | undefined {
  if (start.callSid === undefined || !INTERACTION_ID_PATTERN.test(start.callSid)) {
    return 'start needs a call_sid of 1-128 characters of [A-Za-z0-9._:-]';
  }
  for (const [name, value] of [
    ['stream_sid', start.streamSid],
    ['account_sid', start.accountSid],
  ] as const) {
    if (value !== undefined && value.length > MAX_TELEPHONY_ID_CHARS) {
      return `${name} must be at most ${MAX_TELEPHONY_ID_CHARS} characters`;
    }
  }
  return undefined;
}

export interface BoundedMetadata {
  readonly metadata: Readonly<Record<string, unknown>>;
  /** What had to be cut (empty when the metadata fit as it came). */
  readonly trimmed: readonly StartTrim[];
}

/** The start's metadata within its limits, and what was cut to get there. */
export function boundedMetadata(metadata: Readonly<Record<string, unknown>>): BoundedMetadata {
  const trimmed: StartTrim[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value === 'string' && value.length > MAX_TELEPHONY_TEXT_CHARS) {
      out[key] = cutText(value);
      if (!trimmed.includes('text_field')) trimmed.push('text_field');
    } else {
      out[key] = value;
    }
  }
  if (serialisedBytes(out) > MAX_METADATA_BYTES && 'custom_parameters' in out) {
    delete out.custom_parameters;
    out.custom_parameters_dropped = true;
    trimmed.push('custom_parameters');
  }
  return { metadata: out, trimmed };
}

/** Cut by whole characters (code points), never inside a surrogate pair. */
function cutText(value: string): string {
  return Array.from(value).slice(0, MAX_TELEPHONY_TEXT_CHARS).join('');
}
