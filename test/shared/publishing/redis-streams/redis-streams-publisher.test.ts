/**
 * Behaviour of the redis_streams adapter beyond the shared Publisher contract
 * (test/contract): key layout, MAXLEN, start-up failures, reply classification,
 * connection health and secrecy of the URL password. Real Redis throughout.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { IngestError } from '../../../../src/shared/errors';
import { isCode, isPublishError, stateIs, waitForHealth } from '../../../support/publisher-checks';
import { audioRecord, recordBase } from '../../../support/sample-records';
import {
  publisherFor,
  readStream,
  REDIS_HOST,
  redisScratch,
  startSilentServer,
  startTcpProxy,
} from '../../../support/redis';
import { freePort } from '../../../support/free-port';

/** A pino logger whose lines the test can read. */
function capturedLogger(): { logger: pino.Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, sink), text: () => lines.join('') };
}

test("{tenant_id} in the stream key is replaced by each record's tenant", async (t) => {
  const { admin, prefix } = redisScratch(t, 'tenant-key');
  const publisher = publisherFor(t, { streamKey: `${prefix}:{tenant_id}:audio` });
  await publisher.start();
  await publisher.publish(audioRecord('acme', 1, Buffer.from('a')));
  await publisher.publish(audioRecord('globex', 1, Buffer.from('g')));
  await publisher.publish(audioRecord('acme', 11, Buffer.from('b')));
  const acme = await readStream(admin, `${prefix}:acme:audio`);
  const globex = await readStream(admin, `${prefix}:globex:audio`);
  assert.equal(acme.length, 2);
  assert.equal(globex.length, 1);
  assert.deepEqual(
    acme.map((e) => Object.fromEntries(e.fields).tenant_id.toString()),
    ['acme', 'acme'],
  );
});

test("a stream key without {tenant_id} holds every tenant's records", async (t) => {
  const { admin, prefix } = redisScratch(t, 'shared-key');
  const publisher = publisherFor(t, { streamKey: `${prefix}:all` });
  await publisher.start();
  await publisher.publish(audioRecord('acme', 1, Buffer.from('a')));
  await publisher.publish(audioRecord('globex', 1, Buffer.from('g')));
  assert.equal(await admin.xlen(`${prefix}:all`), 2);
});

test('only audio records have a payload field', async (t) => {
  const { admin, prefix } = redisScratch(t, 'payload-field');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s` });
  await publisher.start();
  await publisher.publish({ ...recordBase('acme'), type: 'stream_ended', last_seq: 1, frames: 1, reason: 'stop' });
  await publisher.publish(audioRecord('acme', 1, Buffer.from([0, 255, 13, 10])));
  const [ended, chunk] = await readStream(admin, `${prefix}:s`);
  assert.ok(!ended.fields.some(([name]) => name === 'payload'));
  assert.deepEqual(
    chunk.fields.filter(([name]) => name === 'payload').map(([, v]) => [...v]),
    [[0, 255, 13, 10]],
  );
});

test('REDIS_STREAM_MAXLEN caps the stream approximately (XADD MAXLEN ~)', async (t) => {
  const { admin, prefix } = redisScratch(t, 'maxlen');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s`, maxlen: 10 });
  await publisher.start();
  for (let i = 0; i < 10; i++) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        publisher.publish(audioRecord('acme', (i * 100 + j) * 10 + 1, Buffer.from('x'))),
      ),
    );
  }
  const length = await admin.xlen(`${prefix}:s`);
  assert.ok(length >= 10 && length < 500, `XLEN ${length} should be near 10, far below 1000`);
});

test('REDIS_STREAM_MAXLEN 0 keeps every record', async (t) => {
  const { admin, prefix } = redisScratch(t, 'no-maxlen');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s`, maxlen: 0 });
  await publisher.start();
  await Promise.all(
    Array.from({ length: 300 }, (_, i) => publisher.publish(audioRecord('acme', i * 10 + 1, Buffer.from('x')))),
  );
  assert.equal(await admin.xlen(`${prefix}:s`), 300);
});

test(
  'start() against an unreachable port rejects with ' + 'backend_unavailable naming host:port, never the password',
  async (t) => {
    const port = await freePort();
    const password = `pw-${randomUUID()}`;
    const { logger, text } = capturedLogger();
    const publisher = publisherFor(t, {
      url: `redis://ingest:${password}@${REDIS_HOST}:${port}`,
      streamKey: 'unused',
      connectTimeoutMs: 300,
      logger,
    });
    const began = Date.now();
    await assert.rejects(publisher.start(), (err) => {
      assert.ok(isCode('backend_unavailable')(err));
      const message = (err as IngestError).message;
      assert.ok(message.includes(`${REDIS_HOST}:${port}`), message);
      assert.ok(!message.includes(password), message);
      return true;
    });
    // Generous bound: the point is that start() gives up at its deadline, not on its own.
    assert.ok(Date.now() - began < 300 + 2000, `took ${Date.now() - began} ms`);
    await publisher.close();
    assert.ok(!text().includes(password), 'the password reached the log');
  },
);

test('start() against a server that never answers rejects with backend_unavailable', async (t) => {
  const silent = await startSilentServer(t);
  const publisher = publisherFor(t, { url: silent.url, streamKey: 'unused', connectTimeoutMs: 300 });
  await assert.rejects(publisher.start(), isCode('backend_unavailable'));
  assert.notEqual(publisher.health().state, 'up');
});

test('close() during start() ends the wait with publisher_closed', async (t) => {
  const port = await freePort();
  const publisher = publisherFor(t, {
    url: `redis://${REDIS_HOST}:${port}`,
    streamKey: 'unused',
    connectTimeoutMs: 60_000,
  });
  const starting = publisher.start();
  await publisher.close();
  await assert.rejects(starting, isCode('publisher_closed'));
  assert.equal(publisher.health().state, 'closed');
});

test('a WRONGTYPE reply is a PublishError that is not retryable and leaves health up', async (t) => {
  const { admin, prefix } = redisScratch(t, 'wrongtype');
  await admin.set(`${prefix}:s`, 'not a stream');
  const publisher = publisherFor(t, { streamKey: `${prefix}:s` });
  await publisher.start();
  await assert.rejects(publisher.publish(audioRecord('acme', 1, Buffer.from('x'))), (err) => {
    assert.ok(isPublishError(false)(err));
    assert.equal((err as IngestError).code, 'backend_rejected');
    assert.match((err as Error).message, /WRONGTYPE/);
    return true;
  });
  assert.equal(publisher.health().state, 'up');
});

test('losing the connection turns health down without a publish; the reconnect brings it up', async (t) => {
  const { prefix } = redisScratch(t, 'reconnect');
  const proxy = await startTcpProxy(t);
  const { logger, text } = capturedLogger();
  const publisher = publisherFor(t, { url: proxy.url, streamKey: `${prefix}:s`, logger });
  await publisher.start();
  proxy.cut();
  const down = await waitForHealth(publisher, stateIs('down'), 'down');
  assert.ok(down.lastError, 'health names the failure');
  proxy.restore();
  await waitForHealth(publisher, stateIs('up'), 'up');
  await publisher.publish(audioRecord('acme', 1, Buffer.from('after')));
  // State changes are logged once each, not once per reconnect attempt.
  assert.deepEqual(text().match(/"state":"\w+"/g), ['"state":"up"', '"state":"down"', '"state":"up"']);
});

test('close() during an outage completes and leaves health closed', async (t) => {
  const { prefix } = redisScratch(t, 'close-outage');
  const proxy = await startTcpProxy(t);
  const publisher = publisherFor(t, { url: proxy.url, streamKey: `${prefix}:s` });
  await publisher.start();
  proxy.cut();
  await waitForHealth(publisher, stateIs('down'), 'down');
  await assert.rejects(publisher.publish(audioRecord('acme', 1, Buffer.from('x'))), isPublishError(true));
  await publisher.close();
  assert.equal(publisher.health().state, 'closed');
});

test('publishes in flight when the connection drops reject at once as retryable', async (t) => {
  const { prefix } = redisScratch(t, 'in-flight-drop');
  const proxy = await startTcpProxy(t);
  // A command timeout far beyond the test: settling must come from the drop itself.
  const publisher = publisherFor(t, { url: proxy.url, streamKey: `${prefix}:s`, commandTimeoutMs: 60_000 });
  await publisher.start();
  proxy.stall(); // nothing gets answered: every publish below is still in flight at the cut
  const pending = Array.from({ length: 50 }, (_, i) =>
    publisher.publish(audioRecord('acme', i * 10 + 1, randomBytes(64 * 1024))),
  );
  await new Promise((resolve) => setImmediate(resolve)); // let the auto-pipeline write them
  proxy.cut();
  const outcomes = await Promise.allSettled(pending);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, 'rejected');
    assert.ok(isPublishError(true)(outcome.reason));
  }
  await waitForHealth(publisher, stateIs('down'), 'down');
});

test('a publish on a connection that stopped answering rejects as retryable after the command timeout', async (t) => {
  const { admin, prefix } = redisScratch(t, 'stalled');
  const proxy = await startTcpProxy(t);
  const publisher = publisherFor(t, { url: proxy.url, streamKey: `${prefix}:s`, commandTimeoutMs: 300 });
  await publisher.start();
  proxy.stall();
  await assert.rejects(publisher.publish(audioRecord('acme', 1, Buffer.from('x'))), isPublishError(true));
  assert.equal(publisher.health().state, 'degraded');
  proxy.unstall();
  await publisher.publish(audioRecord('acme', 11, Buffer.from('y')));
  assert.equal(publisher.health().state, 'up');
  // The timed-out publish reached Redis after all (append-new-frames.test.ts: its retry stores nothing twice).
  const seqs = (await readStream(admin, `${prefix}:s`)).map((e) => Object.fromEntries(e.fields).seq_start.toString());
  assert.deepEqual(seqs, ['1', '11']);
});
