import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SENSITIVE_KEYS } from '../../../src/shared/config/config-schema';
import { createLogger } from '../../../src/shared/process/logger';
import { captureLogs, type LogCapture } from '../../support/log-capture';

/** The service's own logger, its lines kept for the test to read. */
function capturedLogger(): LogCapture {
  return captureLogs((destination) => createLogger({ level: 'info', role: 'tool', destination }));
}

test('every setting the schema marks sensitive is redacted from log lines, at the top level and one level down', () => {
  const { logger, entries } = capturedLogger();
  for (const key of SENSITIVE_KEYS) {
    logger.info({ [key]: 'secret-value', settings: { [key]: 'secret-value' } }, `logging ${key}`);
  }
  const logged = entries;
  assert.equal(logged.length, SENSITIVE_KEYS.length);
  for (const line of logged) {
    assert.ok(!JSON.stringify(line).includes('secret-value'), `a secret reached the log: ${JSON.stringify(line)}`);
  }
});

test('tokens and Authorization headers are redacted from log lines', () => {
  const { logger, entries } = capturedLogger();
  logger.info({ token: 'eyJsecret', req: { headers: { authorization: 'Bearer eyJsecret' } } }, 'request');
  assert.ok(!JSON.stringify(entries).includes('eyJsecret'), 'the token reached the log');
});

test('secret fields and the Twilio signature header are redacted from log lines', () => {
  const { logger, entries } = capturedLogger();
  logger.info({ secret: 's3cret', req: { headers: { 'x-twilio-signature': 'c2lnbmF0dXJl' } } }, 'request');
  const text = JSON.stringify(entries);
  assert.ok(!text.includes('s3cret') && !text.includes('c2lnbmF0dXJl'), `a secret reached the log: ${text}`);
});
