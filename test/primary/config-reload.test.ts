/**
 * What SIGHUP's configuration reload keeps and what it applies (pure logic;
 * the signal and the roll are covered end to end in test/e2e/config-reload).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reloadConfig } from '../../src/primary/config-reload';
import { testConfig } from '../support/ingest-server';

test('3 a generated development key survives a reload, so tokens already handed out keep working', () => {
  const current = {
    ...testConfig({ WORKERS: '2' }),
    jwtPublicKey: '-----BEGIN PUBLIC KEY-----\ndev\n-----END PUBLIC KEY-----\n',
  };
  const outcome = reloadConfig(current, { LOG_LEVEL: 'debug', WORKERS: '2', ACK_INTERVAL: '5' });
  assert.ok(outcome.ok);
  assert.equal(outcome.config.jwtPublicKey, current.jwtPublicKey);
  assert.deepEqual(outcome.changed, ['ACK_INTERVAL']);
  assert.deepEqual(outcome.kept, []);
});

test("3 listeners and the worker count are the primary's: a reload keeps them and names them", () => {
  const current = testConfig({ WORKERS: '2', PORT: '5000', METRICS_PORT: '9464' });
  const outcome = reloadConfig(current, { WORKERS: '4', PORT: '6000', METRICS_PORT: '9999' });
  assert.ok(outcome.ok);
  assert.deepEqual(outcome.kept.sort(), ['METRICS_PORT', 'PORT', 'WORKERS']);
  assert.equal(outcome.config.port, 5000);
  assert.equal(outcome.config.workers, 2);
  assert.ok(Object.isFrozen(outcome.config));
});

test('3 a configuration that no longer validates is refused with every problem', () => {
  const outcome = reloadConfig(testConfig(), { PORT: '0', ACK_INTERVAL: '0' });
  assert.equal(outcome.ok, false);
  assert.deepEqual(outcome.ok ? [] : outcome.problems.map((p) => p.variable).sort(), ['ACK_INTERVAL', 'PORT']);
});
