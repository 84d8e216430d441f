/**
 * FUZZ_SEED replays a run: the same seed gives the same cases, byte for byte
 * (save the WebSocket masking keys of raw frames, which are random as RFC 6455
 * asks and change nothing the server sees); another seed gives other cases.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateCases, type FuzzCase } from './fuzz-plan';
import { fuzzSeed } from './fuzz-random';

const SMALL = { native: 300, exotel: 20, twilio: 20, frames: 60, http: 30 };

/** A case as the server would see it: raw frames by their label (their masks are random). */
function comparable(c: FuzzCase): unknown {
  if (c.kind === 'frames') return { label: c.label, afterStart: c.afterStart, expect: c.expect };
  if (c.kind === 'http') return c;
  return {
    ...c,
    messages: c.messages.map((m) => ({ binary: m.binary, data: Buffer.from(m.data).toString('base64') })),
  };
}

test('the same FUZZ_SEED generates the same cases; another seed, other cases', () => {
  const first = generateCases(12345, SMALL).map(comparable);
  assert.deepEqual(generateCases(12345, SMALL).map(comparable), first);
  assert.notDeepEqual(generateCases(12346, SMALL).map(comparable), first);
});

test('FUZZ_SEED is read as a decimal integer; anything else is refused, not ignored', () => {
  assert.equal(fuzzSeed({ FUZZ_SEED: '4234293805' }), 4234293805);
  assert.throws(() => fuzzSeed({ FUZZ_SEED: 'abc' }), /FUZZ_SEED must be an integer/);
  const fresh = fuzzSeed({});
  assert.ok(Number.isInteger(fresh) && fresh >= 0 && fresh < 2 ** 32);
});
