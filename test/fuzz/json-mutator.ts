/**
 * Mutations of protocol messages, the two ways a broken client breaks them:
 * in the value (a field deleted, renamed, of another type, out of range,
 * huge, deeply nested) and in the bytes of its text (truncated, a character
 * flipped or inserted, a slice repeated). Every mutation is drawn from the
 * case's FuzzRandom, so it replays from the seed.
 */
import type { FuzzRandom } from './fuzz-random';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values that break a field's type or range, whatever the field. */
const HOSTILE_VALUES: readonly Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -0.0001,
  1e308,
  -1e308,
  2 ** 53 + 2,
  '',
  ' ',
  '0',
  '-1',
  'NaN',
  'Infinity',
  '8000Hz',
  '\u0000',
  '\ud800',
  'é€𝄞',
  '../../etc/passwd',
  '%00%ff',
  '<script>',
  '{"type":"stop"}',
  [],
  [1, 2, 3],
  {},
  { type: 'stop' },
  JSON.parse('{"__proto__":{"polluted":true}}') as Json,
];

const JUNK_CHARACTERS = ['{', '}', '"', ',', ':', '[', ']', '\\', '\u0000', '\n', 'x', '0', '\u00e9', '\ud83d\ude00'];

/** A deep copy with one mutation applied at a random place in the value. */
export function mutateValue(rng: FuzzRandom, value: Record<string, unknown>): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(value)) as Record<string, Json>;
  const objects = collectObjects(copy);
  const target = rng.pick(objects);
  const keys = Object.keys(target);
  const key = keys.length > 0 ? rng.pick(keys) : 'extra';
  switch (rng.int(0, 8)) {
    case 0:
      delete target[key];
      break;
    case 1:
      target[rng.pick([key.toUpperCase(), key.replace(/_/g, ''), `${key}_`, '__proto__', 'constructor'])] =
        target[key] ?? null;
      delete target[key];
      break;
    case 2:
    case 3:
      target[key] = rng.pick(HOSTILE_VALUES);
      break;
    case 4:
      target[key] = 'x'.repeat(rng.pick([129, 1000, 5000]));
      break;
    case 5:
      target[key] = nested(rng.pick([10, 100, 1000]));
      break;
    case 6:
      target[`k${rng.int(0, 999)}`] = rng.pick(HOSTILE_VALUES);
      break;
    case 7: {
      const old = target[key];
      if (typeof old === 'number') target[key] = -old;
      else if (typeof old === 'string') target[key] = old.split('').reverse().join('');
      else target[key] = Array.from({ length: rng.int(1, 50) }, () => rng.pick(HOSTILE_VALUES));
      break;
    }
    default:
      target[key] = JSON.stringify(target[key] ?? '');
  }
  return copy;
}

/** The text with one byte-level mutation: usually no longer JSON, sometimes still is. */
export function mutateText(rng: FuzzRandom, text: string): string {
  const at = rng.int(0, text.length);
  switch (rng.int(0, 5)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + rng.pick(JUNK_CHARACTERS) + text.slice(at + 1);
    case 2:
      return text.slice(0, at) + rng.pick(JUNK_CHARACTERS) + text.slice(at);
    case 3:
      return text.slice(0, at) + text.slice(at, at + rng.int(1, 20)).repeat(rng.int(2, 5)) + text.slice(at);
    case 4:
      return text.slice(0, at) + text.slice(at + rng.int(1, 10));
    default:
      return ` ${text}${rng.pick(['', ' ', '\n', ',', '}', 'null'])}`;
  }
}

/** `{"a":{"a":...}}` `depth` levels deep. */
export function nested(depth: number): Json {
  let value: Json = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

function collectObjects(value: Json): Array<{ [key: string]: Json }> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return [value, ...Object.values(value).flatMap(collectObjects)];
}
