/**
 * Generates Exotel and Twilio cases (protocol.md section 4, docs/telephony.md):
 * a simulated call's script (test/support/telephony-simulator.ts) with its
 * messages mutated by value or by byte, junk messages inserted, media
 * duplicated, reordered or corrupted. Telephony sources are lenient (they
 * ignore what they cannot use), so such a call ends as the client ends it:
 * 1000 after its stop or its own close, or 1008 when the start is unusable.
 * Starts broken on purpose expect 1008 exactly; a message over ws's limit 1009.
 */
import { buildCall, type TelephonyProvider } from '../support/telephony-simulator';
import type { FuzzRandom } from './fuzz-random';
import { binary, text, type MessageCase, type WireMessage } from './fuzz-case';
import { mutateText, mutateValue } from './json-mutator';

export interface TelephonyLimits {
  /** ws's own limit: max(MAX_FRAME_BYTES, 16 KiB). */
  readonly maxMessageBytes: number;
}

const JUNK: ReadonlyArray<(rng: FuzzRandom) => WireMessage> = [
  () => text(''),
  () => text('not json'),
  () => text('[1,2]'),
  () => text({ event: 'clear' }),
  () => text({ event: 'media' }),
  () => text({ event: 'media', media: { payload: '!!!not base64' } }),
  () => text({ event: 'media', media: { chunk: '1', payload: 'AAE=' } }),
  () => text({ event: 'media', media: { chunk: -3, payload: 'AAAA' } }),
  () => text({ event: 'media', media: { chunk: 1e12, payload: 'AAAA' } }),
  () => text({ event: 'media', media: { chunk: 'x', payload: 'AA==AA==' } }),
  () => text({ event: 'dtmf' }),
  () => text({ event: 'dtmf', dtmf: { digit: 'd'.repeat(100), duration: -1 } }),
  () => text({ event: 'mark', mark: { name: 'n'.repeat(3000) } }),
  () => text({ event: 'mark', mark: 5 }),
  () => text({ event: 'stop', stop: { reason: '\u0000../\u00e9'.repeat(30) } }),
  () => text({ event: null }),
  (rng) => binary(rng.bytes(rng.int(0, 400))),
  (rng) => binary(Buffer.from(` {"event":"media","media":{"chunk":${rng.int(0, 99)},"payload":"AAAA"}}`)),
  () => binary(Buffer.from('{')),
];

function serialise(rng: FuzzRandom, body: Record<string, unknown> | string | Buffer): WireMessage {
  if (Buffer.isBuffer(body)) return binary(body);
  const json = typeof body === 'string' ? body : JSON.stringify(body);
  // Some Exotel clients send JSON in binary frames: the service must read both.
  return rng.chance(0.15) ? binary(Buffer.from(json)) : text(json);
}

function exotelPath(rng: FuzzRandom): string {
  const path = rng.pick(['/v1/exotel', '/v1/ingest']);
  const query = rng.pick([
    '',
    '?sample-rate=16000',
    '?sample_rate=24000',
    '?sample-rate=abc',
    '?sample-rate=',
    '?a=1&b=2&c=3&d=4',
    `?x=${'q'.repeat(300)}`,
  ]);
  return path + query;
}

export function telephonyCase(
  rng: FuzzRandom,
  index: number,
  provider: TelephonyProvider,
  limits: TelephonyLimits,
): MessageCase {
  const call = buildCall({
    provider,
    casing: rng.chance(0.5) ? 'snake' : 'camel',
    stringNumbers: rng.chance(0.5),
    chunks: rng.int(1, 30),
    chunkBytes: provider === 'twilio' ? rng.pick([80, 160]) : rng.pick([160, 320, 640]),
    tracks: provider === 'twilio' ? rng.pick([['inbound'], ['inbound', 'outbound'], ['outbound']]) : undefined,
    dtmf: rng.chance(0.3) ? [{ afterChunk: 1, digit: String(rng.int(0, 9)), durationMs: rng.int(0, 500) }] : [],
    marks: rng.chance(0.3) ? [{ afterChunk: 1, name: `m-${index}` }] : [],
    stop: rng.chance(0.2) ? false : {},
    callSid: `${provider === 'twilio' ? 'CA' : ''}fuzz${index}x${rng.int(0, 1e6)}`,
    streamSid: `${provider === 'twilio' ? 'MZ' : ''}fuzz${index}`,
    customParameters: rng.chance(0.3) ? { k: 'v'.repeat(rng.int(0, 2000)) } : undefined,
    seed: rng.int(1, 1e6),
  });
  const base = { kind: 'messages', dialect: provider } as const;
  const path = provider === 'exotel' ? exotelPath(rng) : '/v1/twilio';
  const startIndex = call.script.findIndex(
    (m) => !Buffer.isBuffer(m.body) && typeof m.body === 'object' && m.body.event === 'start',
  );
  const roll = rng.next();
  if (roll < 0.15) {
    // A start that can never give a stream: no usable call_sid, or (Twilio) an account without a tenant.
    const start = call.script[startIndex].body as Record<string, unknown>;
    const inner = { ...(start.start as Record<string, unknown>) };
    const what = provider === 'twilio' && rng.chance(0.4) ? 'unmapped account' : 'bad call_sid';
    for (const key of what === 'bad call_sid' ? ['call_sid', 'callSid'] : ['account_sid', 'accountSid'])
      delete inner[key];
    if (what === 'bad call_sid' && rng.chance(0.7))
      inner.callSid = rng.pick(['', 'has space', 'c'.repeat(129), 'é', '../x']);
    if (what === 'unmapped account') inner.accountSid = `AC-unknown-${index}`;
    const messages = call.script.slice(0, startIndex).map((m) => serialise(rng, m.body));
    messages.push(serialise(rng, { ...start, start: inner }));
    messages.push(...call.script.slice(startIndex + 1, startIndex + 4).map((m) => serialise(rng, m.body)));
    return {
      ...base,
      label: `${provider} start with ${what}`,
      path,
      messages,
      then: 'wait',
      expect: { codes: [1008] },
    };
  }
  if (roll < 0.2) {
    const size = limits.maxMessageBytes + rng.int(1, 2048);
    const huge = { event: 'media', media: { chunk: 1, payload: 'A'.repeat(size) } };
    const messages = call.script.slice(0, startIndex + 1).map((m) => serialise(rng, m.body));
    return {
      ...base,
      label: `${provider} message of ${size} bytes`,
      path,
      messages: [...messages, serialise(rng, huge)],
      then: 'wait',
      expect: { codes: [1009] },
    };
  }
  const messages: WireMessage[] = [];
  const mutationRate = rng.pick([0.05, 0.2, 0.5]);
  for (const message of call.script) {
    if (rng.chance(0.05)) messages.push(rng.pick(JUNK)(rng));
    const body = message.body;
    if (!Buffer.isBuffer(body) && typeof body === 'object' && rng.chance(mutationRate)) {
      messages.push(serialise(rng, rng.chance(0.6) ? mutateValue(rng, body) : mutateText(rng, JSON.stringify(body))));
    } else {
      messages.push(serialise(rng, body));
    }
    if (message.media && rng.chance(0.05)) messages.push(serialise(rng, body)); // a duplicated chunk
  }
  if (rng.chance(0.1)) messages.reverse();
  return {
    ...base,
    label: `${provider} call mutated at rate ${mutationRate}`,
    path,
    messages,
    then: 'close',
    expect: { codes: [1000, 1008] },
  };
}
