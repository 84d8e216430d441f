/**
 * What the schema alone decides: which keys are secret (its `sensitive`
 * flags), the type of every Config key (its formats), and that each format
 * reaches convict under a name of its own.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../../src/shared/config/config';
import { list, registerFormats } from '../../../src/shared/config/config-formats';
import { maskedConfig } from '../../../src/shared/config/config-mask';
import { formatConfigReport } from '../../../src/shared/config/config-report';
import { schema, type Config } from '../../../src/shared/config/config-schema';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-config-schema-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const KEYS = Object.keys(schema) as Array<keyof Config>;
const FLAGGED = KEYS.filter((key) => schema[key].sensitive === true);

test('the schema flags at least the known secrets as sensitive', () => {
  for (const key of ['jwtPublicKey', 'redisUrl', 'kafkaSaslPassword', 'exotelBasicAuth', 'twilioAuthToken'] as const) {
    assert.ok(FLAGGED.includes(key), `${key} is a secret`);
  }
});

test('every key the schema flags sensitive is masked in problems and in the report', () => {
  for (const key of FLAGGED) {
    const variable = schema[key].env;
    // A number fits no secret's format, so each flagged key gets a problem that shows its value.
    const file = path.join(dir, `${variable}.json`);
    fs.writeFileSync(file, JSON.stringify({ [variable]: 987654321 }));
    const result = loadConfig({ CONFIG_FILE: file });
    assert.ok(!result.ok, `${variable}: expected a problem`);
    const problem = result.problems.find((p) => p.variable === variable);
    assert.ok(problem, `${variable}: expected a problem about it`);
    const shown = JSON.stringify(result.problems) + formatConfigReport(result, { color: false });
    assert.ok(!shown.includes('987654321'), `${variable} is flagged sensitive but shown: ${shown}`);
  }
});

test('a key the schema does not flag is shown as given', () => {
  const file = path.join(dir, 'not-secret.json');
  fs.writeFileSync(file, JSON.stringify({ KAFKA_SASL_USERNAME: 987654321 }));
  const result = loadConfig({ CONFIG_FILE: file });
  assert.ok(!result.ok);
  assert.deepEqual(result.problems[0], {
    variable: 'KAFKA_SASL_USERNAME',
    value: '987654321',
    expected: 'a string',
    source: 'file',
  });
});

test('every key the schema flags sensitive is masked by maskedConfig', () => {
  const loaded = loadConfig({});
  assert.ok(loaded.ok);
  for (const key of FLAGGED) {
    const secret = Array.isArray(schema[key].default) ? ['user:hunter2=tenant'] : 'hunter2';
    const masked = maskedConfig({ ...loaded.config, [key]: secret });
    assert.ok(!JSON.stringify(masked).includes('hunter2'), `${key} is flagged sensitive but not masked`);
  }
});

test('Config takes each key’s type from its format', () => {
  // Checked by the compiler: an unused @ts-expect-error fails the build.
  const adapter: Config['pubsubAdapter'] = 'kafka';
  // @ts-expect-error: PUBSUB_ADAPTER's format admits the adapter names only
  const badAdapter: Config['pubsubAdapter'] = 'rabbit';
  // @ts-expect-error: LOG_LEVEL's format admits pino's levels only
  const badLevel: Config['logLevel'] = 'loud';
  // @ts-expect-error: JWT_ALGORITHMS' format admits the asymmetric algorithms only
  const badAlgorithms: Config['jwtAlgorithms'] = ['HS256'];
  // @ts-expect-error: PORT's format makes a number
  const badPort: Config['port'] = '5000';
  // @ts-expect-error: KAFKA_BROKERS' format makes a list
  const badBrokers: Config['kafkaBrokers'] = 'k1:9092';
  assert.deepEqual([adapter, badAdapter, badLevel, badAlgorithms, badPort, badBrokers].length, 6);
});

test('two formats may not share a name, since convict keeps one format per name', () => {
  const name = 'test-only list that is registered twice';
  registerFormats([list(undefined, { name })]);
  assert.throws(() => registerFormats([list(undefined, { name })]), /two configuration formats are named/);
});
