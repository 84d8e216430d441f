/**
 * Where values come from: convict's precedence (defaults < CONFIG_FILE <
 * environment) with the two rules it does not have, an empty variable is
 * unset and the file is keyed by variable names, and the source each problem
 * names.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ADAPTER_NAMES } from '../../../src/shared/config/adapter-names';
import { loadConfig } from '../../../src/shared/config/config';
import { formatConfigReport } from '../../../src/shared/config/config-report';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-config-sources-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, values: Record<string, unknown>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(values));
  return file;
}

test('an empty variable counts as unset, so a CONFIG_FILE value under it applies', () => {
  const result = loadConfig({ CONFIG_FILE: configFile('port.json', { PORT: 6000 }), PORT: '' });
  if (!result.ok) assert.fail(formatConfigReport(result, { color: false }));
  assert.equal(result.config.port, 6000);
});

test('CONFIG_FILE strings are coerced like environment values', () => {
  const file = configFile('strings.json', { PORT: '6000', KAFKA_BROKERS: 'a:1, b:2', KAFKA_SSL: 'yes' });
  const result = loadConfig({ CONFIG_FILE: file });
  if (!result.ok) assert.fail(formatConfigReport(result, { color: false }));
  assert.equal(result.config.port, 6000);
  assert.deepEqual(result.config.kafkaBrokers, ['a:1', 'b:2']);
  assert.equal(result.config.kafkaSsl, true);
});

test('a bad environment value over a good CONFIG_FILE value is reported from the environment', () => {
  const result = loadConfig({ CONFIG_FILE: configFile('good-port.json', { PORT: 6000 }), PORT: 'abc' });
  assert.ok(!result.ok);
  assert.deepEqual(result.problems, [
    { variable: 'PORT', value: 'abc', expected: 'an integer from 1 to 65535', source: 'env' },
  ]);
});

test('a bad default is reported as not set', () => {
  const result = loadConfig({ PUBSUB_ADAPTER: 'redis_streams' });
  assert.ok(!result.ok);
  assert.equal(result.problems[0].variable, 'REDIS_URL');
  assert.equal(result.problems[0].source, 'default');
});

test('PUBSUB_ADAPTER accepts every adapter a publisher is named after', () => {
  const needs: Record<string, NodeJS.ProcessEnv> = {
    redis_streams: { REDIS_URL: 'redis://localhost:6379' },
    kafka: { KAFKA_BROKERS: 'localhost:9092' },
  };
  for (const adapter of ADAPTER_NAMES) {
    const result = loadConfig({ PUBSUB_ADAPTER: adapter, ...needs[adapter] });
    if (!result.ok) assert.fail(formatConfigReport(result, { color: false }));
    assert.equal(result.config.pubsubAdapter, adapter);
  }
});
