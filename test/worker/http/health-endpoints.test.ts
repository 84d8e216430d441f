/**
 * The worker's HTTP endpoints on a real server: /health (healthy, degraded
 * while the backend fails, unhealthy 503 while draining), /ready, /live, and
 * JSON 404s for everything else.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpGet, type HttpAnswer } from '../../support/http-get';
import { frameBytes, startTestServer, type TestServer } from '../../support/ingest-server';
import { memoryPublisher as memory } from '../../support/in-memory-records';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function get(server: TestServer, path: string): Promise<HttpAnswer> {
  return httpGet(`http://127.0.0.1:${server.port}${path}`);
}

function json(answer: HttpAnswer): Record<string, unknown> {
  assert.equal(answer.headers['content-type'], 'application/json');
  return JSON.parse(answer.body) as Record<string, unknown>;
}

/**
 * Puts the server in its draining state and keeps it there: an open stream
 * whose client stops reading cannot finish the close handshake, so the drain
 * waits for it. Returns a function that lets the drain complete.
 */
async function holdDraining(server: TestServer): Promise<() => Promise<void>> {
  const holder = await server.connect();
  await holder.start({ interactionId: 'call-holder' });
  holder.ws.pause();
  const draining = server.server.close();
  assert.equal(server.server.serverState, 'draining');
  return async () => {
    holder.ws.resume();
    assert.equal((await holder.closed).code, 1001);
    await draining;
  };
}

test(
  'health: GET /health answers 200 ' + '{"status":"healthy","service":"ingest","pubsub":true,"timestamp":ISO}',
  async (t) => {
    const server = await startTestServer(t);
    const before = Date.now();
    const answer = await get(server, '/health');
    assert.equal(answer.status, 200);
    const body = json(answer);
    assert.deepEqual(Object.keys(body).sort(), ['pubsub', 'service', 'status', 'timestamp']);
    assert.deepEqual(
      { ...body, timestamp: undefined },
      { status: 'healthy', service: 'ingest', pubsub: true, timestamp: undefined },
    );
    assert.match(String(body.timestamp), ISO);
    const at = Date.parse(String(body.timestamp));
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000, 'the timestamp is the current time');
  },
);

test(
  '2 health: /health turns degraded while publishing fails, ' + 'and healthy again once the backend recovers',
  async (t) => {
    const server = await startTestServer(t);
    const publisher = memory(server);
    const client = await server.connect();
    await client.start({ interactionId: 'call-outage' });
    publisher.setFailing(true);
    try {
      client.sendFrame(frameBytes(1, 1));
      const answer = await get(server, '/health');
      assert.equal(answer.status, 200, 'degraded still serves');
      const body = json(answer);
      assert.equal(body.status, 'degraded');
      assert.equal(body.service, 'ingest');
      assert.equal(typeof body.pubsub, 'boolean');
    } finally {
      publisher.setFailing(false);
    }
    const { stopped } = await client.stop();
    assert.deepEqual(stopped, { type: 'stopped', last_seq: 1, frames: 1 });
    const after = await get(server, '/health');
    assert.equal(after.status, 200);
    assert.equal(json(after).status, 'healthy');
  },
);

test('health: /health answers 503 unhealthy while the server drains, with Retry-After like every 503', async (t) => {
  const server = await startTestServer(t);
  const release = await holdDraining(server);
  try {
    const answer = await get(server, '/health');
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '5');
    const body = json(answer);
    assert.equal(body.status, 'unhealthy');
    assert.equal(body.service, 'ingest');
    assert.match(String(body.timestamp), ISO);
  } finally {
    await release();
  }
});

test(
  'health: /ready answers 200 while the server takes streams, ' + 'then 503 with Retry-After once it drains',
  async (t) => {
    const server = await startTestServer(t);
    const ready = await get(server, '/ready');
    assert.equal(ready.status, 200);
    assert.equal(json(ready).ready, true);
    const release = await holdDraining(server);
    try {
      const draining = await get(server, '/ready');
      assert.equal(draining.status, 503);
      assert.equal(json(draining).ready, false);
      assert.match(String(draining.headers['retry-after']), /^\d+$/);
    } finally {
      await release();
    }
  },
);

test('health: /live answers 200, also while the server drains', async (t) => {
  const server = await startTestServer(t);
  const live = await get(server, '/live');
  assert.equal(live.status, 200);
  assert.equal(json(live).live, true);
  const release = await holdDraining(server);
  try {
    assert.equal((await get(server, '/live')).status, 200);
  } finally {
    await release();
  }
});

test('health: an unknown path answers 404 with a JSON {error, message} body', async (t) => {
  const server = await startTestServer(t);
  for (const path of ['/', '/nope', '/healthz', '/v1/other']) {
    const answer = await get(server, path);
    assert.equal(answer.status, 404, path);
    const body = json(answer);
    assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
    assert.equal(body.error, 'not_found');
  }
});

test('health: endpoints ignore a query string', async (t) => {
  const server = await startTestServer(t);
  const answer = await get(server, '/health?verbose=1');
  assert.equal(answer.status, 200);
  assert.equal(json(answer).status, 'healthy');
});
