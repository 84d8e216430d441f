/**
 * The upgrade router's rules (protocol.md 1.1), with fakes for admission, the
 * handshake and the sources: which source an upgrade is for, when the worker
 * refuses it, what a refusal looks like on the wire, what it counts and logs,
 * and what an admitted upgrade owns (its slot, its place in the drain).
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { Duplex, Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import type { WebSocket } from 'ws';
import { IngestError } from '../../../src/shared/errors';
import type { VerifiedIdentity } from '../../../src/worker/admission/upgrade-guard';
import { WorkerStats } from '../../../src/worker/metrics/worker-stats';
import type { TelephonyAdmission } from '../../../src/worker/sources/telephony/telephony-gate';
import type { TelephonyProvider } from '../../../src/worker/sources/telephony/source-protocol';
import { UpgradeRouter, type Admitting } from '../../../src/worker/http/upgrade-router';
import { deferred } from '../../support/deferred';

const CLIENT = '203.0.113.7';
const PHONE_PATH = '/v1/phone';

/** A raw socket that keeps what the router writes on it. */
class FakeSocket extends Duplex {
  written = '';

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.written += chunk.toString('utf8');
    cb();
  }
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
}

function parseAnswer(text: string): Answer {
  const [head, body] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(': ');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 2);
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> };
}

interface Options {
  admitting?: Admitting;
  /** The worker's backlog is at MAX_WORKER_BACKLOG_BYTES. */
  backlogFull?: boolean;
  /** Thrown by the native guard instead of admitting. */
  guardThrows?: Error;
  /** The native guard admits only once this settles (a token whose key is being fetched), for its first call. */
  guardWaits?: Promise<void>;
  /** The telephony provider also claims /v1/ingest (as Exotel does without a bearer token). */
  phoneClaimsIngest?: boolean;
  /** The handshake completes at once (else never: a handshake that failed). */
  handshakeCompletes?: boolean;
}

function setUp(options: Options = {}) {
  const calls: string[] = [];
  const released: string[] = [];
  const served: Duplex[] = [];
  const accepted: Array<{ kind: 'native' | 'telephony'; ws: WebSocket; grant: unknown }> = [];
  const state = { admitting: options.admitting ?? 'open', backlogFull: options.backlogFull ?? false };
  const logs: Array<Record<string, unknown>> = [];
  const stats = new WorkerStats();
  const provider = { source: 'exotel' } as TelephonyProvider;
  const identity: VerifiedIdentity = {
    tenantId: 'acme',
    via: 'header',
    clientAddress: CLIENT,
    release: () => void released.push('native'),
    releaseLease: () => undefined,
  };
  const admission: TelephonyAdmission = {
    source: 'exotel',
    clientAddress: CLIENT,
    protocol: { translate: () => ({ kind: 'connected' }) },
    knownTenant: undefined,
    tenantFor: () => undefined,
    release: () => void released.push('telephony'),
    releaseLease: () => undefined,
  };
  const router = new UpgradeRouter({
    guard: {
      admit: async () => {
        calls.push('guard');
        const wait = options.guardWaits;
        options.guardWaits = undefined;
        if (wait) await wait;
        if (options.guardThrows !== undefined) throw options.guardThrows;
        return identity;
      },
    },
    telephony: {
      route: (path) =>
        path === PHONE_PATH || (options.phoneClaimsIngest && path === '/v1/ingest') ? provider : undefined,
      admit: async () => {
        calls.push('telephony');
        return admission;
      },
    },
    addresses: { resolve: () => CLIENT },
    admitting: () => state.admitting,
    backlogFull: () => state.backlogFull,
    handshake: (_req, _socket, _head, done) => {
      calls.push('handshake');
      if (options.handshakeCompletes ?? true) done(new EventEmitter() as unknown as WebSocket);
    },
    sources: {
      native: (ws, grant) => accepted.push({ kind: 'native', ws, grant }),
      telephony: (ws, grant) => accepted.push({ kind: 'telephony', ws, grant }),
    },
    unserved: { served: (socket) => void served.push(socket) },
    stats,
    logger: pino(
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
          cb();
        },
      }),
    ),
  });
  /** Hands an upgrade to the router; resolves once its admission has run (unless the guard waits). */
  const upgrade = async (url: string): Promise<FakeSocket> => {
    const socket = begin(url);
    await settled();
    return socket;
  };
  /** Hands an upgrade to the router and returns at once. */
  const begin = (url: string): FakeSocket => {
    const socket = new FakeSocket();
    router.handle({ url, headers: {} } as IncomingMessage, socket, Buffer.alloc(0));
    return socket;
  };
  return { upgrade, begin, state, calls, released, served, accepted, logs, stats, identity, admission };
}

/** Lets every admission that does not wait run to its end. */
function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The refusal written on `socket`, once the router has ended it. */
async function refusal(socket: FakeSocket): Promise<Answer> {
  assert.ok(socket.writableEnded || socket.destroyed, 'refused on the spot');
  if (!socket.destroyed) await once(socket, 'close');
  return parseAnswer(socket.written);
}

function counts(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries(map);
}

test('a path no source claims is refused 404 not_found, before any admission', async () => {
  const { upgrade, calls, stats } = setUp();
  const answer = await refusal(await upgrade('/v1/elsewhere?x=1'));
  assert.equal(answer.status, 404);
  assert.deepEqual(answer.body, {
    error: 'not_found',
    message: 'no WebSocket endpoint at /v1/elsewhere; streams go to /v1/ingest',
  });
  assert.equal(answer.headers['content-type'], 'application/json');
  assert.equal(answer.headers.connection, 'close');
  assert.deepEqual(calls, [], 'no admission, no handshake');
  assert.deepEqual(counts(stats.connections), { not_found: 1 });
});

test('native streams are routed on /v1/ingest (query string aside) to the native guard', async () => {
  const { upgrade, calls, accepted, identity } = setUp();
  await upgrade('/v1/ingest?access_token=x');
  assert.deepEqual(calls, ['guard', 'handshake']);
  assert.deepEqual(
    accepted.map((a) => [a.kind, a.grant]),
    [['native', identity]],
  );
});

test(
  'a telephony provider that claims an upgrade gets it, even ' + 'on /v1/ingest, and the guard never sees it',
  async () => {
    for (const path of [PHONE_PATH, '/v1/ingest']) {
      const { upgrade, calls, accepted, admission } = setUp({ phoneClaimsIngest: true });
      await upgrade(path);
      assert.deepEqual(calls, ['telephony', 'handshake'], path);
      assert.deepEqual(
        accepted.map((a) => [a.kind, a.grant]),
        [['telephony', admission]],
        path,
      );
    }
  },
);

test('while starting, upgrades are refused 503 not_ready "the service is starting" with Retry-After: 5', async () => {
  const { upgrade, calls, stats } = setUp({ admitting: 'starting' });
  for (const path of ['/v1/ingest', PHONE_PATH]) {
    const answer = await refusal(await upgrade(path));
    assert.equal(answer.status, 503, path);
    assert.deepEqual(answer.body, { error: 'not_ready', message: 'the service is starting' }, path);
    assert.equal(answer.headers['retry-after'], '5', path);
  }
  assert.deepEqual(calls, [], 'no admission while not ready: no slot taken');
  assert.deepEqual(counts(stats.connections), { not_ready: 2 });
  assert.deepEqual(counts(stats.authFailures), {});
});

test('while draining, upgrades are refused 503 not_ready "the service is draining" with Retry-After: 5', async () => {
  const { upgrade, calls } = setUp({ admitting: 'draining' });
  const answer = await refusal(await upgrade('/v1/ingest'));
  assert.equal(answer.status, 503);
  assert.deepEqual(answer.body, { error: 'not_ready', message: 'the service is draining' });
  assert.equal(answer.headers['retry-after'], '5');
  assert.deepEqual(calls, []);
});

test(
  "while the worker's backlog is at MAX_WORKER_BACKLOG_BYTES, new streams of every source are refused 503 " +
    'worker_backlog_full with Retry-After, before any admission',
  async () => {
    const { upgrade, calls, stats, state, accepted } = setUp({ backlogFull: true, phoneClaimsIngest: false });
    for (const path of ['/v1/ingest', PHONE_PATH]) {
      const answer = await refusal(await upgrade(path));
      assert.equal(answer.status, 503, path);
      assert.equal((answer.body as { error: string }).error, 'worker_backlog_full', path);
      assert.equal(answer.headers['retry-after'], '5', path);
    }
    assert.deepEqual(calls, [], 'no token checked, no slot taken');
    assert.deepEqual(counts(stats.connections), { worker_backlog_full: 2 });
    state.backlogFull = false; // published or given up: below the limit again
    await upgrade('/v1/ingest');
    assert.equal(accepted.length, 1);
  },
);

test('an unknown path is refused 404, not 503, even while the worker is not ready', async () => {
  const { upgrade } = setUp({ admitting: 'draining' });
  const answer = await refusal(await upgrade('/v1/elsewhere'));
  assert.equal(answer.status, 404);
  assert.equal(answer.headers['retry-after'], undefined);
});

test('an authentication refusal answers its status with a challenge and counts as an auth failure', async () => {
  const { upgrade, stats, released, accepted } = setUp({
    guardThrows: new IngestError('invalid_token', 'the token has expired'),
  });
  const answer = await refusal(await upgrade('/v1/ingest'));
  assert.equal(answer.status, 401);
  assert.deepEqual(answer.body, { error: 'invalid_token', message: 'the token has expired' });
  assert.equal(answer.headers['www-authenticate'], 'Bearer error="invalid_token"');
  assert.equal(answer.headers['retry-after'], undefined);
  assert.deepEqual(counts(stats.connections), { invalid_token: 1 });
  assert.deepEqual(counts(stats.authFailures), { invalid_token: 1 });
  assert.deepEqual(released, [], 'no slot was taken');
  assert.deepEqual(accepted, []);
});

test('a 403 counts as an auth failure too; a 429 is refused but is no auth failure', async () => {
  const forbidden = setUp({ guardThrows: new IngestError('tenant_not_allowed', 'tenant not allowed') });
  assert.equal((await refusal(await forbidden.upgrade('/v1/ingest'))).status, 403);
  assert.deepEqual(counts(forbidden.stats.authFailures), { tenant_not_allowed: 1 });
  const limited = setUp({ guardThrows: new IngestError('connection_limit', 'limit reached') });
  const answer = await refusal(await limited.upgrade('/v1/ingest'));
  assert.equal(answer.status, 429);
  assert.equal(answer.headers['www-authenticate'], undefined);
  assert.deepEqual(counts(limited.stats.connections), { connection_limit: 1 });
  assert.deepEqual(counts(limited.stats.authFailures), {});
});

test('every 429 carries Retry-After: a connection limit is refused with Retry-After: 5', async () => {
  const limited = setUp({ guardThrows: new IngestError('connection_limit', 'limit reached') });
  const answer = await refusal(await limited.upgrade('/v1/ingest'));
  assert.equal(answer.status, 429);
  assert.equal(answer.headers['retry-after'], '5');
});

test('a refusal is logged with its code, status and client, and the URL without its token', async () => {
  const { upgrade, logs } = setUp({ guardThrows: new IngestError('invalid_token', 'bad signature') });
  await refusal(await upgrade('/v1/ingest?access_token=secret-token'));
  const line = logs.find((l) => l.code === 'invalid_token');
  assert.ok(line, 'the refusal is logged');
  assert.equal(line.status, 401);
  assert.equal(line.client, CLIENT);
  assert.equal(line.msg, 'upgrade refused: bad signature');
  assert.equal(line.url, '/v1/ingest?access_token=[REDACTED]');
  assert.equal(JSON.stringify(logs).includes('secret-token'), false);
});

test('an unexpected admission error drops the socket without an answer, uncounted, and logs it', async () => {
  const { begin, stats, logs } = setUp({ guardThrows: new TypeError('bug') });
  const socket = begin('/v1/ingest');
  await once(socket, 'close');
  assert.equal(socket.written, '');
  assert.deepEqual(counts(stats.connections), {});
  assert.equal(logs.filter((l) => l.msg === 'upgrade failed unexpectedly').length, 1);
});

test('an admitted upgrade is counted accepted and active, handed to its source, then served', async () => {
  const { upgrade, accepted, served, stats } = setUp();
  const socket = await upgrade('/v1/ingest');
  assert.deepEqual(counts(stats.connections), { accepted: 1 });
  assert.equal(accepted.length, 1);
  assert.equal(stats.connectionsActive, 1);
  assert.deepEqual(served, [socket], 'the drain no longer waits for this connection');
  assert.equal(socket.listenerCount('error'), 0, 'ws owns the socket now: the pre-handshake handler is gone');
  (accepted[0].ws as unknown as EventEmitter).emit('close');
  assert.equal(stats.connectionsActive, 0, 'no longer active once the WebSocket closed');
});

test('the connection slot comes back once the socket closes, also when the handshake never completes', async () => {
  for (const handshakeCompletes of [true, false]) {
    const { upgrade, released, accepted } = setUp({ handshakeCompletes });
    const socket = await upgrade('/v1/ingest');
    assert.equal(accepted.length, handshakeCompletes ? 1 : 0);
    assert.deepEqual(released, [], 'held while the socket is open');
    socket.destroy();
    await once(socket, 'close');
    assert.deepEqual(released, ['native'], `given back once (handshake completes: ${handshakeCompletes})`);
  }
});

test('a socket error before the handshake destroys the socket instead of crashing the worker', async () => {
  const { upgrade } = setUp({ handshakeCompletes: false });
  const socket = await upgrade('/v1/ingest');
  assert.doesNotThrow(() => socket.emit('error', new Error('ECONNRESET')));
  assert.equal(socket.destroyed, true);
});

test(
  'an admission that waits (a key being fetched) holds no other ' + 'upgrade: the next ones complete meanwhile',
  async () => {
    const keyFetch = deferred();
    const { begin, upgrade, calls, accepted, released, stats } = setUp({ guardWaits: keyFetch.promise });
    const waiting = begin('/v1/ingest');
    await settled();
    assert.deepEqual(calls, ['guard'], 'the first upgrade waits in admission');
    await upgrade('/v1/ingest');
    await upgrade(PHONE_PATH);
    assert.deepEqual(
      accepted.map((a) => a.kind),
      ['native', 'telephony'],
      'both later upgrades were handed to their sources while the first still waits',
    );
    keyFetch.resolve();
    await settled();
    assert.equal(accepted.length, 3, 'the waiting upgrade completes once its key is there');
    assert.deepEqual(counts(stats.connections), { accepted: 3 });
    assert.deepEqual(released, []);
    assert.equal(waiting.destroyed, false);
  },
);

test(
  'an upgrade admitted after the drain began (it waited for a ' + 'key) is refused 503 and its slot given back',
  async () => {
    const keyFetch = deferred();
    const { begin, state, calls, released, accepted, stats } = setUp({ guardWaits: keyFetch.promise });
    const socket = begin('/v1/ingest');
    await settled();
    state.admitting = 'draining';
    keyFetch.resolve();
    const answer = await refusal(await settledSocket(socket));
    assert.equal(answer.status, 503);
    assert.deepEqual(answer.body, { error: 'not_ready', message: 'the service is draining' });
    assert.deepEqual(released, ['native'], 'the slot taken by admission is given back');
    assert.deepEqual(accepted, []);
    assert.deepEqual(calls, ['guard'], 'no handshake');
    assert.deepEqual(counts(stats.connections), { not_ready: 1 });
  },
);

test(
  'a client that leaves while its admission waits has its ' + 'socket closed at once; the slot comes back after',
  async () => {
    const keyFetch = deferred();
    const { begin, calls, released, accepted, served, stats } = setUp({ guardWaits: keyFetch.promise });
    const socket = begin('/v1/ingest');
    await settled();
    socket.push(null); // the client closed its side (FIN)
    await once(socket, 'close');
    assert.deepEqual(released, [], 'no slot was taken yet');
    keyFetch.resolve();
    await settled();
    assert.deepEqual(released, ['native'], 'the slot admission took is given back at once');
    assert.deepEqual(calls, ['guard'], 'no handshake on a closed socket');
    assert.deepEqual(accepted, []);
    assert.deepEqual(served, []);
    assert.deepEqual(counts(stats.connections), { client_gone: 1 });
    assert.equal(socket.written, '', 'nothing written to a client that left');
  },
);

test('after admission, the socket is left as it came: no listener of the wait remains', async () => {
  const { upgrade } = setUp({ handshakeCompletes: false });
  const socket = await upgrade('/v1/ingest');
  assert.equal(socket.listenerCount('readable'), 0);
  assert.equal(socket.listenerCount('end'), 0);
});

async function settledSocket(socket: FakeSocket): Promise<FakeSocket> {
  await settled();
  return socket;
}
