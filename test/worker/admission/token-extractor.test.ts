import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import {
  extractToken,
  redactUrl,
  selectSubprotocol,
  type ExtractedToken,
} from '../../../src/worker/admission/token-extractor';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJ0ZW5hbnRfaWQiOiJ0In0.c2lnbmF0dXJl';

function request(url: string, headers: http.IncomingHttpHeaders = {}): http.IncomingMessage {
  return { url, headers } as unknown as http.IncomingMessage;
}

describe('extractToken', () => {
  test('takes the token from Authorization: Bearer, whatever the scheme case', () => {
    assert.deepEqual(extractToken(request('/v1/ingest', { authorization: `Bearer ${JWT}` })), {
      token: JWT,
      via: 'header',
    });
    assert.deepEqual(extractToken(request('/v1/ingest', { authorization: `bearer  ${JWT} ` })), {
      token: JWT,
      via: 'header',
    });
  });

  test('a Bearer header wins over the query and the subprotocol', () => {
    const req = request('/v1/ingest?access_token=other', {
      authorization: `Bearer ${JWT}`,
      'sec-websocket-protocol': 'ingest.v1, bearer.x',
    });
    assert.deepEqual(extractToken(req), { token: JWT, via: 'header' });
  });

  test('an empty Bearer credential still means a native client (refused later as invalid)', () => {
    assert.deepEqual(extractToken(request('/v1/ingest', { authorization: 'Bearer' })), { token: '', via: 'header' });
  });

  test('takes the token from the access_token query parameter', () => {
    assert.deepEqual(extractToken(request(`/v1/ingest?x=1&access_token=${JWT}`)), { token: JWT, via: 'query' });
  });

  test('takes the token from the bearer.<jwt> subprotocol offered with ingest.v1', () => {
    const expected: ExtractedToken = { token: JWT, via: 'subprotocol' };
    assert.deepEqual(
      extractToken(request('/v1/ingest', { 'sec-websocket-protocol': `ingest.v1, bearer.${JWT}` })),
      expected,
    );
    assert.deepEqual(
      extractToken(request('/v1/ingest', { 'sec-websocket-protocol': ` bearer.${JWT} ,ingest.v1 ` })),
      expected,
    );
    assert.equal(extractToken(request('/v1/ingest', { 'sec-websocket-protocol': `bearer.${JWT}` })), undefined);
  });

  test('Authorization: Basic is not a native token', () => {
    const req = request(`/v1/ingest?access_token=${JWT}`, { authorization: 'Basic dXNlcjpwYXNz' });
    assert.equal(extractToken(req), undefined);
  });

  test('no token anywhere gives undefined', () => {
    assert.equal(extractToken(request('/v1/ingest?sample-rate=8000')), undefined);
    assert.equal(extractToken(request('/v1/ingest', { 'sec-websocket-protocol': 'ingest.v1' })), undefined);
  });

  test('a real upgrade: the subprotocol token is found and only ingest.v1 is echoed', async (t) => {
    const seen: Array<ExtractedToken | undefined> = [];
    const wss = new WebSocketServer({ noServer: true, handleProtocols: selectSubprotocol });
    const server = http.createServer();
    t.after(
      () =>
        new Promise<void>((resolve) => {
          wss.close();
          server.close(() => resolve());
        }),
    );
    server.on('upgrade', (req, socket, head) => {
      seen.push(extractToken(req));
      wss.handleUpgrade(req, socket, head, (ws) => ws.close(1000));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const client = new WebSocket(`ws://127.0.0.1:${port}/v1/ingest`, ['ingest.v1', `bearer.${JWT}`]);
    const protocol = await new Promise<string>((resolve, reject) => {
      client.once('open', () => resolve(client.protocol));
      client.once('error', reject);
    });
    await new Promise((resolve) => client.once('close', resolve));
    assert.equal(protocol, 'ingest.v1');
    assert.deepEqual(seen, [{ token: JWT, via: 'subprotocol' }]);
  });
});

describe('redactUrl', () => {
  test('replaces access_token and token values, leaving the rest', () => {
    assert.equal(
      redactUrl(`/v1/ingest?access_token=${JWT}&sample-rate=8000`),
      '/v1/ingest?access_token=[REDACTED]&sample-rate=8000',
    );
    assert.equal(redactUrl(`/v1/ingest?a=1&token=${JWT}`), '/v1/ingest?a=1&token=[REDACTED]');
    assert.equal(redactUrl(`/v1/ingest?id_token=${JWT}&tokens=2`), '/v1/ingest?id_token=[REDACTED]&tokens=2');
  });

  test('matches percent-encoded names and leaves URLs without secrets unchanged', () => {
    assert.equal(redactUrl(`/v1/ingest?access%5Ftoken=${JWT}`), '/v1/ingest?access%5Ftoken=[REDACTED]');
    assert.equal(redactUrl('/v1/ingest?sample-rate=8000'), '/v1/ingest?sample-rate=8000');
    assert.equal(redactUrl('/v1/ingest'), '/v1/ingest');
    assert.equal(
      redactUrl(`wss://host/v1/ingest?access_token=${JWT}#frag`),
      'wss://host/v1/ingest?access_token=[REDACTED]#frag',
    );
  });

  test('a token after # is redacted: in the fragment, and a fragment with no query before it', () => {
    assert.equal(redactUrl(`/v1/ingest#access_token=${JWT}&x=1`), '/v1/ingest#access_token=[REDACTED]&x=1');
    assert.equal(redactUrl(`/v1/ingest?a=1#token=abc`), '/v1/ingest?a=1#token=[REDACTED]');
    assert.equal(redactUrl(`/v1/ingest#${JWT}`), '/v1/ingest#[REDACTED]', 'a bare JWT');
  });

  test('secret-named parameters are redacted: password, secret, api keys, signatures', () => {
    assert.equal(
      redactUrl('/v1/exotel?password=hunter2&secret=s3&client_secret=c&api_key=k&sig=x&sample-rate=8000'),
      '/v1/exotel?password=[REDACTED]&secret=[REDACTED]&client_secret=[REDACTED]&api_key=[REDACTED]' +
        '&sig=[REDACTED]&sample-rate=8000',
    );
    assert.equal(redactUrl('/v1/exotel?DB_PASSWORD=p&pwd=q'), '/v1/exotel?DB_PASSWORD=[REDACTED]&pwd=[REDACTED]');
    assert.equal(
      redactUrl('/v1/exotel?keys=2&monkey=3'),
      '/v1/exotel?keys=2&monkey=3',
      'a name that merely ends in "key" is kept',
    );
  });

  test('a JWT anywhere in the URL and userinfo of an absolute URL are redacted', () => {
    assert.equal(redactUrl(`/v1/ingest/${JWT}`), '/v1/ingest/[REDACTED]');
    assert.equal(redactUrl('ws://exo:s3cret@host/v1/exotel'), 'ws://[REDACTED]@host/v1/exotel');
    assert.equal(redactUrl('ws://exo:s3c@ret@host/v1/exotel'), 'ws://[REDACTED]@host/v1/exotel', 'a password with @');
  });
});

describe('selectSubprotocol', () => {
  test('selects ingest.v1 when offered, never the bearer entry', () => {
    assert.equal(selectSubprotocol(new Set([`bearer.${JWT}`, 'ingest.v1'])), 'ingest.v1');
    assert.equal(selectSubprotocol(new Set([`bearer.${JWT}`])), false);
    assert.equal(selectSubprotocol(new Set()), false);
  });
});
