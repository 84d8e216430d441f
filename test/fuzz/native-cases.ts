/**
 * Generates native-dialect cases (protocol.md 1.2, 1.2.1): valid starts in
 * both dialects, then mutated by value or by byte, protocol-order violations,
 * garbage text and oversized frames. A case whose breakage the generator
 * chose on purpose expects the exact close and `error` code the contract
 * names; a random mutation may leave the message valid, so it expects one of
 * the documented ends (1000 after stop, 1008).
 */
import type { FuzzRandom } from './fuzz-random';
import { binary, text, type MessageCase, type WireMessage } from './fuzz-case';
import { mutateText, mutateValue, nested } from './json-mutator';

/** The bytes of `{"type":"keepalive","pad":""}` around a padding. */
const KEEPALIVE_PAD_OVERHEAD = '{"type":"keepalive","pad":""}'.length;

export interface NativeLimits {
  readonly tenantId: string;
  /** The service's MAX_FRAME_BYTES. */
  readonly maxFrameBytes: number;
  /** ws's own limit: max(MAX_FRAME_BYTES, 16 KiB) (websocket-handshake.ts). */
  readonly maxMessageBytes: number;
}

const ENDED = [1000, 1008];

function validStart(rng: FuzzRandom, index: number, legacy: boolean): Record<string, unknown> {
  const interactionId = `fuzz-${index}-${rng.int(0, 1e6)}`;
  if (legacy) return { event: 'start', interaction_id: interactionId, sample_rate: 24000, encoding: 'pcm16' };
  return {
    type: 'start',
    interaction_id: interactionId,
    media: {
      encoding: rng.pick(['pcm_s16le', 'mulaw', 'alaw', 'opus']),
      sample_rate: rng.pick([8000, 16000, 48000]),
      channels: rng.int(1, 2),
    },
    first_seq: rng.int(1, 1000),
    metadata: { agent_id: `a-${rng.int(0, 99)}`, tags: ['x', 'y'] },
  };
}

function frames(rng: FuzzRandom, count: number): WireMessage[] {
  return Array.from({ length: count }, () => binary(rng.bytes(rng.int(0, 640))));
}

/** Starts whose breakage is certain, with the error code the contract names. */
function brokenStart(rng: FuzzRandom, start: Record<string, unknown>, tenantId: string): [string, unknown, string] {
  const media = start.media as Record<string, unknown>;
  const choices: Array<() => [string, unknown, string]> = [
    () => ['interaction_id missing', { ...start, interaction_id: undefined }, 'invalid_start'],
    () => ['interaction_id empty', { ...start, interaction_id: '' }, 'invalid_start'],
    () => ['interaction_id 129 chars', { ...start, interaction_id: 'i'.repeat(129) }, 'invalid_start'],
    () => [
      'interaction_id bad char',
      { ...start, interaction_id: `bad${rng.pick([' ', '/', '#', '?', '\u00e9', '*'])}id` },
      'invalid_start',
    ],
    () => ['interaction_id number', { ...start, interaction_id: 42 }, 'invalid_start'],
    () => ['encoding unknown', { ...start, media: { ...media, encoding: 'mp3' } }, 'invalid_start'],
    () => ['sample_rate low', { ...start, media: { ...media, sample_rate: 7999 } }, 'invalid_start'],
    () => ['sample_rate high', { ...start, media: { ...media, sample_rate: 48001 } }, 'invalid_start'],
    () => ['sample_rate string', { ...start, media: { ...media, sample_rate: '8000' } }, 'invalid_start'],
    () => ['sample_rate float', { ...start, media: { ...media, sample_rate: 8000.5 } }, 'invalid_start'],
    () => ['channels 3', { ...start, media: { ...media, channels: 3 } }, 'invalid_start'],
    () => ['media array', { ...start, media: [] }, 'invalid_start'],
    () => ['first_seq 0', { ...start, first_seq: 0 }, 'invalid_start'],
    () => ['first_seq negative', { ...start, first_seq: -5 }, 'invalid_start'],
    () => ['first_seq float', { ...start, first_seq: 1.5 }, 'invalid_start'],
    () => ['first_seq string', { ...start, first_seq: '1' }, 'invalid_start'],
    () => ['first_seq unsafe', { ...start, first_seq: 2 ** 53 }, 'invalid_start'],
    () => ['metadata array', { ...start, metadata: [1] }, 'invalid_start'],
    () => ['metadata string', { ...start, metadata: 'm' }, 'invalid_start'],
    () => ['metadata over 4 KiB', { ...start, metadata: { blob: 'm'.repeat(4100) } }, 'invalid_start'],
    () => ['metadata deeply nested', { ...start, metadata: nested(2000) }, 'invalid_start'],
    () => ['tenant_id other', { ...start, tenant_id: `${tenantId}-other` }, 'tenant_mismatch'],
    () => ['tenant_id number', { ...start, tenant_id: 7 }, 'invalid_start'],
  ];
  return rng.pick(choices)();
}

const GARBAGE_TEXT = [
  '',
  'not json',
  '[]',
  '[{"type":"start"}]',
  '42',
  '"start"',
  'null',
  'true',
  '{}',
  '{"type":"resume"}',
  '{"type":7}',
  '{"type":null}',
  '{"event":5}',
  '{"type":"START"}',
  '{"type":"start"',
  '{"type":"keepalive"}}',
  '\u0000\u0001\u0002',
  '{"type":"\ud800"}',
];

export function nativeCase(rng: FuzzRandom, index: number, limits: NativeLimits): MessageCase {
  const legacy = rng.chance(0.15);
  const start = validStart(rng, index, legacy);
  const roll = rng.next();
  const base = { kind: 'messages', dialect: 'native' } as const;
  if (roll < 0.3) {
    const mutated = mutateValue(rng, start);
    return {
      ...base,
      label: `value-mutated start ${JSON.stringify(mutated).slice(0, 200)}`,
      messages: [text(mutated), ...frames(rng, rng.int(0, 3))],
      then: 'stop',
      expect: { codes: ENDED },
    };
  }
  if (roll < 0.45) {
    const chosen = rng.pick(['start', 'keepalive', 'stop']);
    const original = chosen === 'start' ? JSON.stringify(start) : JSON.stringify({ type: chosen });
    const mutated = mutateText(rng, original);
    const messages = chosen === 'start' ? [text(mutated)] : [text(start), ...frames(rng, 2), text(mutated)];
    return {
      ...base,
      label: `byte-mutated ${chosen} ${JSON.stringify(mutated).slice(0, 200)}`,
      messages,
      then: 'stop',
      expect: { codes: ENDED },
    };
  }
  if (roll < 0.65 && !legacy) {
    const [what, broken, errorCode] = brokenStart(rng, start, limits.tenantId);
    return {
      ...base,
      label: `start with ${what}`,
      messages: [text(broken)],
      then: 'wait',
      expect: { codes: [1008], errorCode },
    };
  }
  if (roll < 0.77) {
    const garbage = rng.pick(GARBAGE_TEXT);
    const after = rng.chance(0.5);
    const messages = after ? [text(start), ...frames(rng, rng.int(0, 3)), text(garbage)] : [text(garbage)];
    return {
      ...base,
      label: `garbage text ${JSON.stringify(garbage)} ${after ? 'after' : 'before'} start`,
      messages,
      then: 'wait',
      expect: { codes: [1008], errorCode: 'invalid_message' },
    };
  }
  if (roll < 0.85) {
    const order = rng.pick(['frame_before_start', 'duplicate_start', 'stop_before_start'] as const);
    const messages =
      order === 'frame_before_start'
        ? [binary(rng.bytes(rng.int(1, 320))), text(start)]
        : order === 'duplicate_start'
          ? [text(start), ...frames(rng, rng.int(0, 3)), text(start)]
          : [text({ type: 'stop' }), text(start)];
    const errorCode = order === 'stop_before_start' ? 'invalid_message' : order;
    return { ...base, label: order, messages, then: 'wait', expect: { codes: [1008], errorCode } };
  }
  if (roll < 0.9) {
    const overWs = rng.chance(0.3);
    const size = overWs
      ? limits.maxMessageBytes + rng.int(1, 4096)
      : rng.int(limits.maxFrameBytes + 1, limits.maxMessageBytes);
    // A text message is `size` bytes in all, its JSON included: under ws's limit means the whole message.
    const oversized = rng.chance(0.8)
      ? binary(rng.bytes(size))
      : text(`{"type":"keepalive","pad":"${'p'.repeat(size - KEEPALIVE_PAD_OVERHEAD)}"}`);
    // Past ws's own limit ws closes by itself, with no error message (protocol.md, Project decisions).
    const errorCode = overWs || !oversized.binary ? undefined : 'frame_too_large';
    const label = `${oversized.binary ? 'binary' : 'text'} message of ${size} bytes`;
    if (!oversized.binary && !overWs) {
      // A text message under ws's limit is parsed: a keepalive with padding is a valid keepalive.
      return { ...base, label, messages: [text(start), oversized], then: 'stop', expect: { codes: [1000] } };
    }
    return {
      ...base,
      label,
      messages: [text(start), ...frames(rng, 2), oversized],
      then: 'wait',
      expect: { codes: [1009], errorCode },
    };
  }
  // A valid stream: the positive control of the generator.
  const messages: WireMessage[] = [];
  // Sequence numbers at the end of the safe integers: the stream must still end cleanly.
  // (at most 12 frames follow: the last one is numbered at most MAX_SAFE_INTEGER - 1).
  if (!legacy && rng.chance(0.1)) start.first_seq = Number.MAX_SAFE_INTEGER - 12 - rng.int(0, 5);
  if (rng.chance(0.3)) messages.push(text({ type: 'keepalive' }));
  messages.push(text(start));
  for (let i = rng.int(0, 12); i > 0; i--)
    messages.push(rng.chance(0.2) ? text({ type: 'keepalive' }) : frames(rng, 1)[0]);
  return {
    ...base,
    label: `valid ${legacy ? 'legacy ' : ''}stream`,
    messages,
    then: 'stop',
    expect: { codes: [1000] },
  };
}
