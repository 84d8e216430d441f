/**
 * A real JWKS endpoint for tests: node:http on 127.0.0.1, an ephemeral port
 * (loopback, so plain http is allowed), serving whatever key set the test
 * puts there. It can answer with an error, hold its answers until the test
 * lets them go (a slow identity provider), or stop answering altogether.
 */
import http from 'node:http';
import type { KeyObject } from 'node:crypto';
import type { TestContext } from 'node:test';
import { makeKeyPair, signToken, type Claims, type SignOptions, type TestKeyPair } from './tokens';

/** A published JWK: the public key's members plus kid, alg, use and whatever the test adds. */
export type Jwk = Record<string, unknown>;

/** A key pair with a kid, ready to sign tokens that name it and to be published. */
export interface KidKeyPair extends TestKeyPair {
  readonly kid: string;
  readonly jwk: Jwk;
  sign(claims?: Claims, opts?: SignOptions): string;
}

export function kidKeyPair(kid: string, kind: 'rsa' | 'ec' = 'ec', extra: Jwk = {}): KidKeyPair {
  const pair = makeKeyPair(kind);
  const alg = kind === 'ec' ? 'ES256' : 'RS256';
  const jwk: Jwk = { ...publicJwk(pair.privateKey), kid, alg, use: 'sig', ...extra };
  return { ...pair, kid, jwk, sign: (claims = {}, opts = {}) => signToken(pair.privateKey, claims, { kid, ...opts }) };
}

/** The public members of a key (from its private half, as jsonwebtoken signs with that). */
export function publicJwk(privateKey: KeyObject): Jwk {
  const { kty, n, e, crv, x, y } = privateKey.export({ format: 'jwk' });
  return Object.fromEntries(Object.entries({ kty, n, e, crv, x, y }).filter(([, v]) => v !== undefined));
}

export interface JwksServer {
  readonly url: string;
  /** GET requests received so far. */
  readonly requests: number;
  /** Serves `{"keys": keys}` from now on. */
  serve(keys: Jwk[]): void;
  /** Answers every request with this status (and no key set) until serve() is called again. */
  failWith(status: number): void;
  /** Holds every answer from now on until release(); a held request gets the answer current at release. */
  hold(): void;
  release(): void;
  /** Resolves once `n` requests have arrived in total. */
  whenRequests(n: number): Promise<void>;
}

export async function startJwksServer(t: TestContext, keys: Jwk[] = []): Promise<JwksServer> {
  let body: Jwk[] | undefined = keys;
  let status = 200;
  let holding = false;
  let held: Array<() => void> = [];
  let requests = 0;
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  const answer = (res: http.ServerResponse): void => {
    if (res.destroyed) return;
    if (status !== 200 || body === undefined) {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end('{"error":"unavailable"}');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: body }));
  };
  const server = http.createServer((_req, res) => {
    requests++;
    waiters = waiters.filter((w) => (requests >= w.n ? (w.resolve(), false) : true));
    if (holding) held.push(() => answer(res));
    else answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    holding = false;
    for (const go of held) go();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    serve(keys: Jwk[]) {
      body = keys;
      status = 200;
    },
    failWith(code: number) {
      status = code;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      const waiting = held;
      held = [];
      for (const go of waiting) go();
    },
    whenRequests(n: number) {
      return requests >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}
