import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundLog } from '../../../src/shared/process/bound-log';
import { createLogger } from '../../../src/shared/process/logger';
import { captureLogs, type LogCapture } from '../../support/log-capture';

/** The service's own root logger (base fields, redaction, serializers), its lines kept for the test to read. */
function capturedLogger(level = 'info'): LogCapture {
  return captureLogs((destination) => createLogger({ level, role: 'worker', workerId: 1, destination }));
}

test("a stream's log carries its fields on every line, after the root's and before the line's own", () => {
  const { logger, entries } = capturedLogger();
  const log = new BoundLog(logger, { tenant_id: 'acme', client: '10.0.0.1' });
  log.info('stream connected');
  log.warn({ code: 'start_timeout' }, 'no start');
  assert.equal(entries.length, 2);
  assert.deepEqual(Object.keys(entries[1]), [
    'level',
    'time',
    'service',
    'role',
    'pid',
    'worker_id',
    'tenant_id',
    'client',
    'code',
    'msg',
  ]);
  assert.equal(entries[0].tenant_id, 'acme');
  assert.equal(entries[0].client, '10.0.0.1');
  assert.equal(entries[0].msg, 'stream connected');
  assert.equal(entries[1].level, 'warn');
  assert.equal(entries[1].code, 'start_timeout');
});

test("a child adds the stream's ids to the connection's fields; a field named again is written once, last", () => {
  const { logger, entries } = capturedLogger();
  const connection = new BoundLog(logger, { tenant_id: '', client: '10.0.0.1' });
  const stream = connection.child({ tenant_id: 'acme', interaction_id: 'call-1', stream_id: 's-1' });
  stream.error({ lost_bytes: 3 }, 'given up');
  connection.info('still the connection');
  assert.deepEqual(
    {
      tenant_id: entries[0].tenant_id,
      client: entries[0].client,
      ids: [entries[0].interaction_id, entries[0].stream_id],
    },
    { tenant_id: 'acme', client: '10.0.0.1', ids: ['call-1', 's-1'] },
  );
  assert.equal(entries[0].lost_bytes, 3);
  assert.equal(entries[1].interaction_id, undefined, "a child's fields never reach its parent's lines");
});

test('errors are serialized and secrets redacted as on the root logger; disabled levels write nothing', () => {
  const { logger, entries } = capturedLogger('info');
  const log = new BoundLog(logger, { tenant_id: 'acme' });
  log.debug({ detail: 1 }, 'not written at info');
  log.error({ err: new Error('boom'), token: 'eyJsecret' }, 'failed');
  assert.equal(entries.length, 1);
  const err = entries[0].err as Record<string, unknown>;
  assert.equal(err.message, 'boom');
  assert.equal(typeof err.stack, 'string');
  assert.ok(!JSON.stringify(entries).includes('eyJsecret'), 'the token reached the log');
});
