/**
 * The key-set cache's rules (JwksKeySource), with a scripted fetch and a
 * hand-moved clock: a cached kid never waits, an unknown kid fetches at most
 * once per cooldown and concurrent ones share that fetch, a failed fetch keeps
 * the cached keys serving, staleness follows the max age, and close() leaves
 * no fetch or timer behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { JwksFetchError, type JwksFetchOptions } from '../../../src/worker/admission/jwks-fetch';
import { JwksKeySource, type KidLookup } from '../../../src/worker/admission/jwks-key-source';
import { WorkerStats } from '../../../src/worker/metrics/worker-stats';
import { deferred } from '../../support/deferred';
import { kidKeyPair, type Jwk } from '../../support/jwks-server';

const COOLDOWN = 30_000;
const REFRESH = 300_000;
const MAX_AGE = 3_600_000;

const A = kidKeyPair('key-a', 'ec');
const B = kidKeyPair('key-b', 'rsa');

interface Harness {
  readonly source: JwksKeySource;
  readonly stats: WorkerStats;
  /** Fetches started so far. */
  fetches(): number;
  /** What the next fetches answer: a key set, an error, or a promise the test settles. */
  answer(next: Jwk[] | Error | (() => Promise<unknown>)): void;
  advance(ms: number): void;
  /** The signal each fetch got. */
  readonly signals: AbortSignal[];
}

function harness(initial: Jwk[] = [A.jwk], t?: { after(fn: () => void): void }): Harness {
  let clock = 1_000_000;
  let fetches = 0;
  let next: Jwk[] | Error | (() => Promise<unknown>) = initial;
  const signals: AbortSignal[] = [];
  const stats = new WorkerStats();
  const fetch = (_url: string, options: JwksFetchOptions): Promise<unknown> => {
    fetches++;
    if (options.signal) signals.push(options.signal);
    if (typeof next === 'function') return next();
    if (next instanceof Error) return Promise.reject(next);
    return Promise.resolve({ keys: next });
  };
  const source = new JwksKeySource({
    url: 'https://id.example/jwks',
    algorithms: ['RS256', 'ES256'],
    refreshMs: REFRESH,
    cooldownMs: COOLDOWN,
    timeoutMs: 5000,
    maxAgeMs: MAX_AGE,
    logger: pino({ level: 'silent' }),
    stats,
    now: () => clock,
    fetch,
  });
  t?.after(() => source.close());
  return {
    source,
    stats,
    fetches: () => fetches,
    answer: (n) => (next = n),
    advance: (ms) => (clock += ms),
    signals,
  };
}

function found(lookup: KidLookup): boolean {
  return 'found' in lookup && lookup.found.length > 0;
}

const down = (): JwksFetchError => new JwksFetchError('network_error', 'connect ECONNREFUSED');

/** Fails instead of hanging when `promise` does not settle within a few event-loop turns. */
async function settlesAtOnce<T>(promise: Promise<T>, what: string): Promise<T> {
  const late = new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${what} waited`)), 50));
  return Promise.race([promise, late]);
}

test('a kid in the cache is answered at once, even while a fetch for an unknown kid hangs', async (t) => {
  const h = harness([A.jwk], t);
  await h.source.start();
  const hang = deferred();
  h.answer(() => hang.promise.then(() => ({ keys: [A.jwk] })));
  h.advance(COOLDOWN);
  const unknown = h.source.find('key-x', 'ES256');
  assert.equal(h.stats.jwks.waiting, 1, 'the unknown kid waits for the fetch');
  assert.ok(found(await settlesAtOnce(h.source.find('key-a', 'ES256'), 'the cached kid')));
  hang.resolve();
  assert.equal(((await unknown) as { missing: string }).missing, 'not_in_set');
  assert.equal(h.stats.jwks.waiting, 0);
});

test('an unknown kid fetches the key set at most once per cooldown', async (t) => {
  const h = harness([A.jwk], t);
  await h.source.start();
  assert.equal(h.fetches(), 1);
  h.advance(COOLDOWN - 1);
  const early = await h.source.find('key-x', 'ES256');
  assert.equal(h.fetches(), 1, 'no fetch within the cooldown');
  assert.match(
    (early as { reason: string }).reason,
    /key "key-x" is not in the key set \(fetched 30 s ago; .*30000 ms\)/,
  );
  h.advance(1);
  const late = await h.source.find('key-x', 'ES256');
  assert.equal(h.fetches(), 2, 'one fetch once the cooldown has passed');
  assert.equal((late as { missing: string }).missing, 'not_in_set');
  await h.source.find('key-y', 'ES256');
  assert.equal(h.fetches(), 2, 'the next unknown kid waits for the next cooldown');
  assert.deepEqual(Object.fromEntries(h.stats.jwks.unknownKids), { cooldown: 2, not_found: 1 });
});

test('unknown kids arriving together share one fetch', async (t) => {
  const h = harness([A.jwk], t);
  await h.source.start();
  const gate = deferred();
  h.answer(() => gate.promise.then(() => ({ keys: [A.jwk, B.jwk] })));
  h.advance(COOLDOWN);
  const lookups = [1, 2, 3, 4, 5].map(() => h.source.find('key-b', 'RS256'));
  assert.equal(h.stats.jwks.waiting, 5);
  gate.resolve();
  for (const lookup of await Promise.all(lookups)) assert.ok(found(lookup));
  assert.equal(h.fetches(), 2, 'the start and one shared fetch');
});

test(
  'rotation: a new key is found by the fetch its kid triggers, ' + 'and the key removed from the set stops serving',
  async (t) => {
    const h = harness([A.jwk], t);
    await h.source.start();
    h.answer([B.jwk]);
    h.advance(COOLDOWN);
    assert.ok(found(await h.source.find('key-b', 'RS256')), 'the new key');
    h.advance(COOLDOWN);
    assert.equal(((await h.source.find('key-a', 'ES256')) as { missing: string }).missing, 'not_in_set');
  },
);

test(
  'while the endpoint is down the cached keys keep verifying, and ' + 'an unknown kid is unavailable (not refused)',
  async (t) => {
    const h = harness([A.jwk], t);
    await h.source.start();
    h.answer(down());
    h.advance(COOLDOWN);
    const unknown = await h.source.find('key-x', 'ES256');
    assert.equal((unknown as { missing: string }).missing, 'unavailable');
    assert.match((unknown as { reason: string }).reason, /could not be fetched \(connect ECONNREFUSED\)/);
    assert.ok(found(await h.source.find('key-a', 'ES256')), 'the cached key still serves');
    assert.deepEqual(Object.fromEntries(h.stats.jwks.fetches), { ok: 1, network_error: 1 });
  },
);

test(
  'the source turns stale once no fetch has succeeded for the ' + 'max age, and fresh after the next success',
  async (t) => {
    const h = harness([A.jwk], t);
    await h.source.start();
    h.answer(down());
    h.advance(MAX_AGE);
    assert.equal(h.source.stale(), false, 'exactly the max age is not stale yet');
    h.advance(1);
    assert.equal(h.source.stale(), true);
    assert.equal(h.source.ageMs(), MAX_AGE + 1);
    h.answer([A.jwk]);
    await h.source.find('key-x', 'ES256'); // any fetch that succeeds
    assert.equal(h.source.stale(), false);
    assert.equal(h.source.ageMs(), 0);
  },
);

test('a source whose first fetch failed is stale at once: it holds no key at all', async (t) => {
  const h = harness([A.jwk], t);
  h.answer(down());
  await h.source.start();
  assert.equal(h.source.stale(), true);
  assert.equal(h.source.size, 0);
});

test('a key set that names an alg for a key serves that key for that alg only', async (t) => {
  const h = harness([A.jwk], t);
  await h.source.start();
  const lookup = await h.source.find('key-a', 'ES384');
  assert.deepEqual(lookup, {
    missing: 'wrong_algorithm',
    reason: 'key "key-a" of the key set is for ES256, not ES384',
  });
  assert.equal(h.fetches(), 1, 'a known kid with another alg fetches nothing');
});

test(
  'a key set with an HMAC key, an alg none key and an encryption ' + 'key serves its signing keys and ignores those',
  async (t) => {
    const hmac = { kty: 'oct', kid: 'hmac', k: Buffer.from('secret').toString('base64url'), alg: 'HS256' };
    const none = { ...B.jwk, kid: 'none', alg: 'none' };
    const enc = { ...B.jwk, kid: 'enc', use: 'enc', alg: 'RSA-OAEP' };
    const h = harness([hmac, none, enc, A.jwk], t);
    await h.source.start();
    assert.equal(h.source.size, 1);
    assert.ok(found(await h.source.find('key-a', 'ES256')));
    h.advance(COOLDOWN);
    assert.equal(((await h.source.find('hmac', 'ES256')) as { missing: string }).missing, 'not_in_set');
    assert.deepEqual(Object.fromEntries(h.stats.jwks.keysIgnored), { hmac_or_none: 4, not_signing: 2 });
  },
);

test('a key set with no usable key is a failed fetch: the cached keys stay', async (t) => {
  const h = harness([A.jwk], t);
  await h.source.start();
  h.answer([{ kty: 'oct', kid: 'only-hmac', k: 'c2VjcmV0' }]);
  h.advance(COOLDOWN);
  assert.equal(((await h.source.find('key-x', 'ES256')) as { missing: string }).missing, 'unavailable');
  assert.ok(found(await h.source.find('key-a', 'ES256')));
  assert.deepEqual(Object.fromEntries(h.stats.jwks.fetches), { ok: 1, invalid: 1 });
});

test(
  'close() aborts the fetch in flight (its waiting lookups ' + 'settle at once) and fetches nothing after',
  async (t) => {
    const h = harness([A.jwk], t);
    await h.source.start();
    h.answer(
      () =>
        new Promise((_resolve, reject) => {
          const signal = h.signals[h.signals.length - 1];
          signal.addEventListener('abort', () => reject(signal.reason as Error));
        }),
    );
    h.advance(COOLDOWN);
    const waiting = h.source.find('key-x', 'ES256');
    h.source.close();
    h.source.close(); // idempotent
    assert.ok(h.signals[1].aborted, 'the fetch was aborted');
    assert.equal(((await settlesAtOnce(waiting, 'the waiting lookup')) as { missing: string }).missing, 'unavailable');
    h.advance(COOLDOWN);
    await h.source.find('key-y', 'ES256');
    assert.equal(h.fetches(), 2, 'nothing is fetched after close');
    assert.ok(found(await h.source.find('key-a', 'ES256')), 'the cached keys still answer');
    assert.deepEqual(Object.fromEntries(h.stats.jwks.fetches), { ok: 1 }, 'an abort is not counted as a failure');
  },
);

test(
  'the key set is fetched again every refresh interval, and a ' + 'failed fetch is retried after the cooldown',
  async (t) => {
    let fetches = 0;
    let fail = false;
    const source = new JwksKeySource({
      url: 'https://id.example/jwks',
      algorithms: ['ES256'],
      refreshMs: 300,
      cooldownMs: 100,
      timeoutMs: 1000,
      maxAgeMs: 60_000,
      logger: pino({ level: 'silent' }),
      stats: new WorkerStats(),
      fetch: async () => {
        fetches++;
        if (fail) throw down();
        return { keys: [A.jwk] };
      },
    });
    t.after(() => source.close());
    await source.start();
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(fetches, 2, 'start, then one refresh 300 ms later');
    fail = true;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(fetches >= 3, `a failed refresh is retried after the 100 ms cooldown (${fetches} fetches)`);
    source.close();
    const atClose = fetches;
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(fetches, atClose, 'no timer left after close');
  },
);
