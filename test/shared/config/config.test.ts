import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { loadConfig, type ConfigProblem } from '../../../src/shared/config/config';
import { configToJson, configFromJson } from '../../../src/shared/config/config-handoff';
import { maskedConfig, maskSecret } from '../../../src/shared/config/config-mask';
import { formatConfigReport } from '../../../src/shared/config/config-report';
import { DEFAULT_JWT_ALGORITHMS } from '../../../src/shared/config/config-schema';
import { IngestError } from '../../../src/shared/errors';
import { selfSignedCertificate } from '../../support/self-signed-certificate';

// Fixtures shared by every test: key pairs, files, and a self-signed certificate.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-config-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const jwtKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const JWT_PUBLIC_PEM = jwtKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const JWT_PRIVATE_PEM = jwtKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const jwtKeyFile = write('jwt-public.pem', JWT_PUBLIC_PEM);

const { key: tlsKey, cert: tlsCert } = selfSignedCertificate(dir, 'tls-');
const otherKey = write(
  'other-key.pem',
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
);
const missing = path.join(dir, 'does-not-exist.pem');

const PROD = { NODE_ENV: 'production', REDIS_URL: 'redis://localhost:6379', JWT_PUBLIC_KEY: JWT_PUBLIC_PEM };

function write(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

function problemsOf(env: NodeJS.ProcessEnv): ConfigProblem[] {
  const result = loadConfig(env);
  assert.equal(result.ok, false, 'expected configuration problems, got none');
  return result.ok ? [] : result.problems;
}

function okOf(env: NodeJS.ProcessEnv) {
  const result = loadConfig(env);
  if (!result.ok) assert.fail(`expected a valid configuration:\n${formatConfigReport(result, { color: false })}`);
  return result;
}

// One case per rule: the env, the one variable blamed, and what the message must say.
const BAD: Array<[rule: string, env: NodeJS.ProcessEnv, variable: string, expected: RegExp]> = [
  ['PORT 0 is below the port range', { PORT: '0' }, 'PORT', /an integer from 1 to 65535/],
  ['PORT 70000 is above the port range', { PORT: '70000' }, 'PORT', /an integer from 1 to 65535/],
  ['PORT abc is not an integer', { PORT: 'abc' }, 'PORT', /an integer from 1 to 65535/],
  ['WORKERS 0 is not a worker count', { WORKERS: '0' }, 'WORKERS', /an integer from 1 to 1024/],
  ['BUFFER_DURATION_MS 50 is below 100', { BUFFER_DURATION_MS: '50' }, 'BUFFER_DURATION_MS', /from 100 to 30000/],
  [
    'BUFFER_DURATION_MS 40000 is above 30000',
    { BUFFER_DURATION_MS: '40000' },
    'BUFFER_DURATION_MS',
    /from 100 to 30000/,
  ],
  ['ACK_INTERVAL 0 is below 1', { ACK_INTERVAL: '0' }, 'ACK_INTERVAL', /from 1 to 1000/],
  [
    'PUBSUB_ADAPTER rabbit is not an adapter',
    { PUBSUB_ADAPTER: 'rabbit' },
    'PUBSUB_ADAPTER',
    /one of: in_memory, redis_streams, kafka/,
  ],
  ['REDIS_URL http://x is not a redis URL', { REDIS_URL: 'http://x' }, 'REDIS_URL', /redis:\/\/ or rediss:\/\/ URL/],
  [
    'redis_streams requires REDIS_URL',
    { PUBSUB_ADAPTER: 'redis_streams' },
    'REDIS_URL',
    /required when PUBSUB_ADAPTER=redis_streams/,
  ],
  ['kafka requires KAFKA_BROKERS', { PUBSUB_ADAPTER: 'kafka' }, 'KAFKA_BROKERS', /required when PUBSUB_ADAPTER=kafka/],
  ['KAFKA_BROKERS entries are host:port', { KAFKA_BROKERS: 'nohostport' }, 'KAFKA_BROKERS', /host:port/],
  [
    'JWT_ALGORITHMS refuses HMAC (HS256)',
    { JWT_ALGORITHMS: 'RS256,HS256' },
    'JWT_ALGORITHMS',
    /asymmetric JWT algorithms only.*"HS256"/,
  ],
  [
    'JWT_ALGORITHMS refuses none',
    { JWT_ALGORITHMS: 'none' },
    'JWT_ALGORITHMS',
    /asymmetric JWT algorithms only.*"none"/,
  ],
  ['JWT_ALGORITHMS may not be an empty list', { JWT_ALGORITHMS: ',' }, 'JWT_ALGORITHMS', /not empty/],
  ['JWT_PUBLIC_KEY must hold a PEM public key', { JWT_PUBLIC_KEY: 'garbage' }, 'JWT_PUBLIC_KEY', /no PEM block/],
  ['JWT_PUBLIC_KEY refuses a private key', { JWT_PUBLIC_KEY: JWT_PRIVATE_PEM }, 'JWT_PUBLIC_KEY', /private key/],
  [
    'JWT_PUBLIC_KEY_FILE must be readable',
    { JWT_PUBLIC_KEY_FILE: missing },
    'JWT_PUBLIC_KEY_FILE',
    /readable file.*ENOENT/,
  ],
  [
    'JWT_PUBLIC_KEY_FILE must hold PEM public keys',
    { JWT_PUBLIC_KEY_FILE: write('not-a-key.pem', 'hello') },
    'JWT_PUBLIC_KEY_FILE',
    /no PEM block/,
  ],
  [
    'JWT_PUBLIC_KEY and JWT_PUBLIC_KEY_FILE are not both set',
    { JWT_PUBLIC_KEY: JWT_PUBLIC_PEM, JWT_PUBLIC_KEY_FILE: jwtKeyFile },
    'JWT_PUBLIC_KEY_FILE',
    /in one place only/,
  ],
  [
    'production requires a JWT key',
    { NODE_ENV: 'production', REDIS_URL: 'redis://localhost:6379' },
    'JWT_PUBLIC_KEY',
    /required when NODE_ENV=production unless SUPPORT_EXOTEL=true/,
  ],
  [
    'JWT_JWKS_URL must be https: plain http to a host that is not loopback is refused',
    { JWT_JWKS_URL: 'http://id.example.com/.well-known/jwks.json' },
    'JWT_JWKS_URL',
    /an https:\/\/ URL \(plain http:\/\/ only to a loopback address/,
  ],
  [
    'JWT_JWKS_URL must be https: plain http to a private (not loopback) address is refused',
    { JWT_JWKS_URL: 'http://10.0.0.5:8080/jwks' },
    'JWT_JWKS_URL',
    /only to a loopback address/,
  ],
  ['JWT_JWKS_URL must be a URL', { JWT_JWKS_URL: 'jwks.json' }, 'JWT_JWKS_URL', /an https:\/\/ URL of a JSON Web Key/],
  [
    'JWT_JWKS_URL must be http(s)',
    { JWT_JWKS_URL: 'ftp://id.example.com/jwks' },
    'JWT_JWKS_URL',
    /an https:\/\/ URL of a JSON Web Key/,
  ],
  [
    'JWT_JWKS_URL carries no credentials',
    { JWT_JWKS_URL: 'https://user:pw@id.example.com/jwks' },
    'JWT_JWKS_URL',
    /without credentials/,
  ],
  [
    'JWT_JWKS_COOLDOWN_MS is at most JWT_JWKS_REFRESH_MS',
    { JWT_JWKS_REFRESH_MS: '10000', JWT_JWKS_COOLDOWN_MS: '20000' },
    'JWT_JWKS_COOLDOWN_MS',
    /at most JWT_JWKS_REFRESH_MS \(10000\)/,
  ],
  [
    'JWT_JWKS_CACHE_MAX_AGE_MS is more than JWT_JWKS_REFRESH_MS',
    { JWT_JWKS_REFRESH_MS: '60000', JWT_JWKS_CACHE_MAX_AGE_MS: '60000' },
    'JWT_JWKS_CACHE_MAX_AGE_MS',
    /more than JWT_JWKS_REFRESH_MS \(60000\)/,
  ],
  [
    'JWT_JWKS_TIMEOUT_MS is bounded',
    { JWT_JWKS_TIMEOUT_MS: '120000' },
    'JWT_JWKS_TIMEOUT_MS',
    /an integer from 100 to 60000/,
  ],
  ['SSL_KEY_PATH alone is a problem (both or neither)', { SSL_KEY_PATH: tlsKey }, 'SSL_CERT_PATH', /both or neither/],
  ['SSL_CERT_PATH alone is a problem (both or neither)', { SSL_CERT_PATH: tlsCert }, 'SSL_KEY_PATH', /both or neither/],
  [
    'SSL_KEY_PATH must be readable',
    { SSL_KEY_PATH: missing, SSL_CERT_PATH: tlsCert },
    'SSL_KEY_PATH',
    /readable PEM private key file.*ENOENT/,
  ],
  [
    'SSL_CERT_PATH must be readable',
    { SSL_KEY_PATH: tlsKey, SSL_CERT_PATH: missing },
    'SSL_CERT_PATH',
    /readable PEM certificate file.*ENOENT/,
  ],
  [
    'SSL_CERT_PATH must hold a certificate',
    { SSL_KEY_PATH: tlsKey, SSL_CERT_PATH: jwtKeyFile },
    'SSL_CERT_PATH',
    /a PEM certificate/,
  ],
  [
    'SSL_KEY_PATH must be the key of the certificate',
    { SSL_KEY_PATH: otherKey, SSL_CERT_PATH: tlsCert },
    'SSL_KEY_PATH',
    /does not match/,
  ],
  [
    'MAX_CHUNK_BYTES must be at least MAX_FRAME_BYTES',
    { MAX_FRAME_BYTES: '65536', MAX_CHUNK_BYTES: '2048' },
    'MAX_CHUNK_BYTES',
    /at least MAX_FRAME_BYTES \(65536\)/,
  ],
  [
    'MAX_STREAM_BACKLOG_BYTES must be at least MAX_CHUNK_BYTES',
    { MAX_STREAM_BACKLOG_BYTES: '4096' },
    'MAX_STREAM_BACKLOG_BYTES',
    /at least MAX_CHUNK_BYTES \(1048576\)/,
  ],
  ['SUPPORT_EXOTEL maybe is not a boolean', { SUPPORT_EXOTEL: 'maybe' }, 'SUPPORT_EXOTEL', /true or false/],
  [
    'TRUSTED_PROXIES entries are addresses or CIDR ranges',
    { TRUSTED_PROXIES: '10.0.0.0/33' },
    'TRUSTED_PROXIES',
    /prefix length from 0 to 32/,
  ],
];

for (const [rule, env, variable, expected] of BAD) {
  test(rule, () => {
    const problems = problemsOf(env);
    assert.deepEqual(
      problems.map((p) => p.variable),
      [variable],
      `problems: ${JSON.stringify(problems)}`,
    );
    assert.match(problems[0].expected, expected);
  });
}

test('defaults load with an empty environment', () => {
  const { config, warnings } = okOf({});
  assert.equal(config.port, 5000);
  assert.equal(config.pubsubAdapter, 'in_memory');
  assert.deepEqual(config.jwtAlgorithms, DEFAULT_JWT_ALGORITHMS);
  assert.deepEqual(warnings, []);
});

test('an empty variable counts as unset', () => {
  assert.equal(okOf({ PORT: '', PUBSUB_ADAPTER: '' }).config.port, 5000);
});

test('every problem is reported at once', () => {
  const env = {
    PORT: '0',
    WORKERS: '0',
    PUBSUB_ADAPTER: 'rabbit',
    SUPPORT_EXOTEL: 'maybe',
    KAFKA_BROKERS: 'nohostport',
    JWT_PUBLIC_KEY_FILE: missing,
    MAX_CHUNK_BYTES: '2048',
  };
  const problems = problemsOf(env);
  const report = formatConfigReport(loadConfig(env), { color: false });
  const variables = [
    'PORT',
    'WORKERS',
    'PUBSUB_ADAPTER',
    'SUPPORT_EXOTEL',
    'KAFKA_BROKERS',
    'JWT_PUBLIC_KEY_FILE',
    'MAX_CHUNK_BYTES',
  ];
  assert.deepEqual(problems.map((p) => p.variable).sort(), [...variables].sort());
  assert.match(report, /^configuration invalid: 7 problems$/m);
  for (const v of variables) assert.match(report, new RegExp(`^  ${v}: got "`, 'm'));
});

test('production with SUPPORT_EXOTEL=true needs no JWT key', () => {
  okOf({
    NODE_ENV: 'production',
    REDIS_URL: 'redis://localhost:6379',
    SUPPORT_EXOTEL: 'true',
    EXOTEL_BASIC_AUTH: 'exotel:pw=tenant-a',
  });
});

test('production with JWT_JWKS_URL alone (no PEM key) satisfies the key requirement', () => {
  const { config } = okOf({
    NODE_ENV: 'production',
    REDIS_URL: 'redis://localhost:6379',
    JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
  });
  assert.equal(config.jwtPublicKey, '');
  assert.equal(config.jwtJwksUrl, 'https://id.example.com/.well-known/jwks.json');
});

test('JWT_JWKS_URL over plain http is accepted to a loopback address (a local identity proxy)', () => {
  for (const url of [
    'http://127.0.0.1:8080/jwks',
    'http://127.8.9.10/jwks',
    'http://[::1]:9000/jwks',
    'http://localhost/k',
  ]) {
    assert.equal(okOf({ JWT_JWKS_URL: url }).config.jwtJwksUrl, url);
  }
});

test('the JWKS settings default to a 5 min refresh, 30 s cooldown, 5 s timeout and 1 h max age', () => {
  const { config } = okOf({});
  assert.equal(config.jwtJwksUrl, '');
  assert.equal(config.jwtJwksRefreshMs, 300000);
  assert.equal(config.jwtJwksCooldownMs, 30000);
  assert.equal(config.jwtJwksTimeoutMs, 5000);
  assert.equal(config.jwtJwksCacheMaxAgeMs, 3600000);
});

test('JWT_PUBLIC_KEY_FILE content becomes config.jwtPublicKey', () => {
  const { config } = okOf({ JWT_PUBLIC_KEY_FILE: jwtKeyFile });
  assert.equal(config.jwtPublicKey, JWT_PUBLIC_PEM);
  assert.equal(config.jwtPublicKeyFile, jwtKeyFile);
});

test('a TLS key that matches its certificate is accepted', () => {
  const { config, warnings } = okOf({ ...PROD, SSL_KEY_PATH: tlsKey, SSL_CERT_PATH: tlsCert });
  assert.equal(config.sslKeyPath, tlsKey);
  assert.deepEqual(warnings, []);
});

test('secrets are masked in problems and in the report', () => {
  const secrets = ['s3cret-pw', 'BEGIN PRIVATE KEY', JWT_PRIVATE_PEM.split('\n')[1]];
  const env = { REDIS_URL: 'http://user:s3cret-pw@cache.internal:6379', JWT_PUBLIC_KEY: JWT_PRIVATE_PEM };
  const result = loadConfig(env);
  const problems = problemsOf(env);
  assert.equal(problems.find((p) => p.variable === 'REDIS_URL')?.value, 'http://user:****@cache.internal:6379');
  assert.equal(problems.find((p) => p.variable === 'JWT_PUBLIC_KEY')?.value, '****');
  const shown = JSON.stringify(problems) + formatConfigReport(result, { color: true });
  for (const secret of secrets) assert.ok(!shown.includes(secret), `secret "${secret}" leaked: ${shown}`);
});

test('maskedConfig masks sensitive values and leaves the config alone', () => {
  const { config } = okOf({
    PUBSUB_ADAPTER: 'redis_streams',
    REDIS_URL: 'rediss://app:pw123@cache:6380/0?password=pw456',
    JWT_PUBLIC_KEY: JWT_PUBLIC_PEM,
  });
  const masked = maskedConfig(config);
  assert.equal(masked.redisUrl, 'rediss://app:****@cache:6380/0?****');
  assert.equal(masked.jwtPublicKey, '****');
  assert.equal(masked.port, config.port);
  assert.equal(config.redisUrl, 'rediss://app:pw123@cache:6380/0?password=pw456');
  assert.equal(maskSecret('redis://only-a-password@cache'), 'redis://****@cache');
  assert.equal(maskSecret('not a url'), '****');
});

test('CONFIG_FILE values are used and the environment overrides them', () => {
  const file = write(
    'config-ok.json',
    JSON.stringify({
      PORT: 6000,
      WORKERS: 3,
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: ['k1:9092', 'k2:9092'],
      SUPPORT_EXOTEL: true,
      EXOTEL_BASIC_AUTH: ['exotel:pw=tenant-a'],
    }),
  );
  const { config } = okOf({ CONFIG_FILE: file, PORT: '7000' });
  assert.equal(config.port, 7000);
  assert.equal(config.workers, 3);
  assert.equal(config.pubsubAdapter, 'kafka');
  assert.deepEqual(config.kafkaBrokers, ['k1:9092', 'k2:9092']);
  assert.equal(config.supportExotel, true);
});

test('a bad CONFIG_FILE value is a problem that says it came from the file', () => {
  const file = write('config-bad-value.json', JSON.stringify({ PORT: 0 }));
  const problems = problemsOf({ CONFIG_FILE: file });
  assert.deepEqual(problems, [
    { variable: 'PORT', value: '0', expected: 'an integer from 1 to 65535', source: 'file' },
  ]);
  assert.match(
    formatConfigReport(loadConfig({ CONFIG_FILE: file }), { color: false }),
    /PORT: got "0" \(from CONFIG_FILE\), expected/,
  );
});

test('an unknown CONFIG_FILE key is a problem', () => {
  const file = write('config-unknown.json', JSON.stringify({ PROT: 5000 }));
  const problems = problemsOf({ CONFIG_FILE: file });
  assert.equal(problems.length, 1);
  assert.equal(problems[0].variable, 'CONFIG_FILE');
  assert.match(problems[0].expected, /"PROT" is not one/);
});

test('an unreadable or invalid CONFIG_FILE is a problem', () => {
  assert.match(problemsOf({ CONFIG_FILE: missing })[0].expected, /readable JSON file.*ENOENT/);
  assert.match(problemsOf({ CONFIG_FILE: write('config-broken.json', '{"PORT": ') })[0].expected, /readable JSON file/);
  assert.match(problemsOf({ CONFIG_FILE: write('config-array.json', '[1]') })[0].expected, /JSON object/);
});

test('production defaults the adapter to redis_streams', () => {
  assert.equal(okOf(PROD).config.pubsubAdapter, 'redis_streams');
  const problems = problemsOf({ NODE_ENV: 'production', JWT_PUBLIC_KEY: JWT_PUBLIC_PEM });
  assert.match(problems[0].expected, /the default with NODE_ENV=production/);
});

test('production with in_memory is a warning, not a problem', () => {
  const { warnings } = okOf({ ...PROD, PUBSUB_ADAPTER: 'in_memory', TRUSTED_PROXIES: '10.0.0.0/8' });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /lost on restart/);
});

test('production with neither TLS nor TRUSTED_PROXIES is a warning', () => {
  const { warnings } = okOf(PROD);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /no TLS and no proxy hint.*TRUSTED_PROXIES/);
  assert.deepEqual(okOf({ ...PROD, TRUSTED_PROXIES: '10.0.0.0/8,::1' }).warnings, []);
});

test('the loaded config is deeply frozen', () => {
  const { config } = okOf({ KAFKA_BROKERS: 'a:1' });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.kafkaBrokers));
  assert.throws(() => {
    (config as { port: number }).port = 1;
  }, TypeError);
  assert.ok(!Object.isFrozen(DEFAULT_JWT_ALGORITHMS), 'freezing the config must not freeze schema defaults');
});

test('configToJson and configFromJson round-trip a frozen config', () => {
  const { config } = okOf({ ...PROD, KAFKA_BROKERS: 'a:1,b:2' });
  const copy = configFromJson(configToJson(config));
  assert.deepEqual(copy, config);
  assert.ok(Object.isFrozen(copy) && Object.isFrozen(copy.kafkaBrokers));
});

test('configFromJson refuses JSON that is not a whole config', () => {
  const json = JSON.parse(configToJson(okOf({}).config)) as Record<string, unknown>;
  delete json.port;
  const isConfigInvalid = (err: unknown) => err instanceof IngestError && err.code === 'config_invalid';
  assert.throws(() => configFromJson(JSON.stringify(json)), isConfigInvalid);
  assert.throws(() => configFromJson(JSON.stringify({ ...json, port: 1, extra: 1 })), isConfigInvalid);
  assert.throws(() => configFromJson('not json'), isConfigInvalid);
});

test('the report colours problems red, warnings yellow and the OK line green, only when asked', () => {
  const bad = loadConfig({
    PORT: '0',
    NODE_ENV: 'production',
    SUPPORT_EXOTEL: 'true',
    EXOTEL_BASIC_AUTH: 'exotel:pw=tenant-a',
    PUBSUB_ADAPTER: 'in_memory',
  });
  const plain = formatConfigReport(bad, { color: false });
  assert.ok(!plain.includes('\u001b['), 'no escape codes without color');
  assert.match(
    plain,
    /^configuration invalid: 1 problem\n {2}PORT: got "0", expected an integer from 1 to 65535\n2 warnings:\n/,
  );
  const colored = formatConfigReport(bad, { color: true });
  assert.ok(colored.includes('\u001b[31m  PORT: got "0"'), 'problems in red');
  assert.ok(colored.includes('\u001b[33m  PUBSUB_ADAPTER=in_memory'), 'warnings in yellow');
  const good = formatConfigReport(loadConfig({ WORKERS: '1' }), { color: true });
  assert.equal(good, '\u001b[32mconfiguration OK: adapter in_memory, port 5000, 1 worker\u001b[0m\n');
});
