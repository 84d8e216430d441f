/**
 * Loads the configuration once, in the primary: schema defaults < CONFIG_FILE
 * (a JSON object keyed by the environment variable names) < environment.
 *
 * Every problem is collected, never only the first, so an operator fixes a
 * deployment in one round. We coerce and validate per key with the schema's own
 * formats instead of calling convict's validate(): that throws one joined error,
 * and convict lets env override load() in ways its docs got wrong for years.
 */
import fs from 'node:fs';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type convict from 'convict';
import { schema, type Config } from './config-schema';
import { shownValue } from './config-mask';
import { deepFreeze, errorMessage, isPlainObject } from './plain-values';
import { splitCredentialEntry, splitTenantEntry, TENANT_PATTERN } from './telephony-entries';
import { parsePublicKeys } from '../auth/public-keys';

export type ConfigSource = 'default' | 'file' | 'env';

export interface ConfigProblem {
  /** The environment variable (or CONFIG_FILE key) at fault. */
  variable: string;
  /** The value as given, secrets masked. */
  value: string;
  /** What would have been accepted. */
  expected: string;
  /** Where the value came from; absent means the environment. */
  source?: ConfigSource;
}

export type ConfigResult =
  | { ok: true; config: Readonly<Config>; warnings: string[] }
  | { ok: false; problems: ConfigProblem[]; warnings: string[] };

/** Names a JSON file whose keys are the same names as the environment variables. */
export const CONFIG_FILE_VARIABLE = 'CONFIG_FILE';

type Key = keyof Config;

interface KeySpec {
  readonly key: Key;
  readonly env: string;
  readonly item: convict.SchemaObj;
  readonly format: convict.Format;
}

interface Given {
  readonly raw: unknown;
  readonly source: ConfigSource;
}

/** The state of one loadConfig() call. */
interface Load {
  readonly given: Map<Key, Given>;
  /** Only keys whose value passed its format. */
  readonly values: Partial<Config>;
  readonly problems: ConfigProblem[];
  readonly warnings: string[];
}

const SPECS: readonly KeySpec[] = Object.entries(schema).map(([key, entry]) => {
  const item = entry as convict.SchemaObj;
  return {
    key: key as Key,
    env: String(item.env),
    item,
    format: item.format as convict.Format,
  };
});
const SPEC_BY_KEY = new Map<Key, KeySpec>(SPECS.map((s) => [s.key, s]));

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ConfigResult {
  const load: Load = { given: new Map(), values: {}, problems: [], warnings: [] };
  collectSources(load, env);
  for (const spec of SPECS) resolveKey(load, spec);
  if (!load.given.has('pubsubAdapter') && load.values.nodeEnv === 'production')
    load.values.pubsubAdapter = 'redis_streams';
  checkBackend(load);
  checkJwtKeys(load);
  checkTls(load);
  checkSizes(load);
  checkTelephony(load);
  collectWarnings(load);
  if (load.problems.length > 0) return { ok: false, problems: load.problems, warnings: load.warnings };
  return { ok: true, config: deepFreeze(load.values as Config), warnings: load.warnings };
}

function collectSources(load: Load, env: NodeJS.ProcessEnv): void {
  const file = env[CONFIG_FILE_VARIABLE];
  const fromFile = file ? readConfigFile(load, file) : {};
  for (const spec of SPECS) {
    const value = env[spec.env];
    // An empty variable counts as unset: compose files and shells produce them by accident.
    if (value !== undefined && value !== '') load.given.set(spec.key, { raw: value, source: 'env' });
    else if (Object.hasOwn(fromFile, spec.env)) load.given.set(spec.key, { raw: fromFile[spec.env], source: 'file' });
  }
}

function readConfigFile(load: Load, path: string): Record<string, unknown> {
  const fail = (expected: string) => {
    load.problems.push({ variable: CONFIG_FILE_VARIABLE, value: path, expected, source: 'env' });
    return {};
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    return fail(`a readable JSON file (${errorMessage(err)})`);
  }
  if (!isPlainObject(parsed)) return fail('a JSON object keyed by environment variable names');
  const known = new Set(SPECS.map((s) => s.env));
  for (const name of Object.keys(parsed)) {
    if (!known.has(name)) fail(`only the variable names of docs/config.md as keys ("${name}" is not one)`);
  }
  return parsed;
}

function resolveKey(load: Load, spec: KeySpec): void {
  const given = load.given.get(spec.key);
  // Clone defaults so freezing the result never freezes the schema's arrays.
  const raw: unknown = given ? given.raw : structuredClone(spec.item.default as unknown);
  const value: unknown = spec.format.coerce ? spec.format.coerce(raw) : raw;
  try {
    spec.format.validate?.(value, spec.item);
    (load.values as Record<string, unknown>)[spec.key] = value;
  } catch (err) {
    load.problems.push({
      variable: spec.env,
      value: shownValue(spec.key, raw),
      expected: errorMessage(err),
      source: given?.source ?? 'default',
    });
  }
}

/** Adds a problem about `key`, showing the value as it was given (or defaulted). */
function problemFor(load: Load, key: Key, expected: string): void {
  const spec = SPEC_BY_KEY.get(key) as KeySpec;
  const given = load.given.get(key);
  load.problems.push({
    variable: spec.env,
    value: shownValue(spec.key, given ? given.raw : spec.item.default),
    expected,
    source: given?.source ?? 'default',
  });
}

function checkBackend(load: Load): void {
  const { pubsubAdapter, redisUrl, kafkaBrokers } = load.values;
  const why = load.given.has('pubsubAdapter') ? '' : ', the default with NODE_ENV=production';
  if (pubsubAdapter === 'redis_streams' && redisUrl === '') {
    problemFor(load, 'redisUrl', `a redis:// or rediss:// URL (required when PUBSUB_ADAPTER=redis_streams${why})`);
  }
  if (pubsubAdapter === 'kafka' && kafkaBrokers?.length === 0) {
    problemFor(load, 'kafkaBrokers', 'at least one host:port (required when PUBSUB_ADAPTER=kafka)');
  }
  if (pubsubAdapter === 'kafka') checkKafkaSecurity(load);
}

function checkKafkaSecurity(load: Load): void {
  const { kafkaSaslMechanism, kafkaSaslUsername, kafkaSaslPassword, kafkaSsl, kafkaSslCaFile } = load.values;
  if (kafkaSaslMechanism) {
    if (!kafkaSaslUsername)
      problemFor(load, 'kafkaSaslUsername', `a user name (required with KAFKA_SASL_MECHANISM=${kafkaSaslMechanism})`);
    if (!kafkaSaslPassword)
      problemFor(load, 'kafkaSaslPassword', `a password (required with KAFKA_SASL_MECHANISM=${kafkaSaslMechanism})`);
  }
  if (kafkaSslCaFile) {
    if (!kafkaSsl)
      problemFor(load, 'kafkaSslCaFile', 'unset unless KAFKA_SSL=true (a CA file without TLS does nothing)');
    else readText(load, 'kafkaSslCaFile', 'a readable PEM CA file');
  }
}

function checkJwtKeys(load: Load): void {
  const { jwtPublicKey, jwtPublicKeyFile, nodeEnv, supportExotel } = load.values;
  if (jwtPublicKey && jwtPublicKeyFile) {
    problemFor(load, 'jwtPublicKeyFile', 'unset when JWT_PUBLIC_KEY is set (configure the key in one place only)');
  }
  if (jwtPublicKey) {
    const bad = publicKeysProblem(jwtPublicKey);
    if (bad) problemFor(load, 'jwtPublicKey', `one or more PEM public keys (${bad})`);
  }
  if (jwtPublicKeyFile) {
    const text = readText(load, 'jwtPublicKeyFile', 'a readable file of PEM public keys');
    const bad = text === undefined ? undefined : publicKeysProblem(text);
    if (bad) problemFor(load, 'jwtPublicKeyFile', `a file of one or more PEM public keys (${bad})`);
    // Workers get the key itself, so they never read (or race on) the file.
    else if (text !== undefined && !jwtPublicKey) load.values.jwtPublicKey = text;
  }
  if (nodeEnv === 'production' && supportExotel === false && jwtPublicKey === '' && jwtPublicKeyFile === '') {
    problemFor(
      load,
      'jwtPublicKey',
      'a PEM public key in JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE (required when NODE_ENV=production unless SUPPORT_EXOTEL=true)',
    );
  }
}

function publicKeysProblem(pem: string): string | undefined {
  try {
    parsePublicKeys(pem);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}

function checkTls(load: Load): void {
  const { sslKeyPath, sslCertPath } = load.values;
  if (sslKeyPath === undefined || sslCertPath === undefined || (!sslKeyPath && !sslCertPath)) return;
  if (!sslKeyPath)
    problemFor(load, 'sslKeyPath', 'a PEM private key path, set together with SSL_CERT_PATH (both or neither)');
  if (!sslCertPath)
    problemFor(load, 'sslCertPath', 'a PEM certificate path, set together with SSL_KEY_PATH (both or neither)');
  const keyPem = sslKeyPath ? readText(load, 'sslKeyPath', 'a readable PEM private key file') : undefined;
  const certPem = sslCertPath ? readText(load, 'sslCertPath', 'a readable PEM certificate file') : undefined;
  let key: KeyObject | undefined;
  let cert: X509Certificate | undefined;
  try {
    if (keyPem !== undefined) key = createPrivateKey(keyPem);
  } catch (err) {
    problemFor(load, 'sslKeyPath', `an unencrypted PEM private key (${errorMessage(err)})`);
  }
  try {
    if (certPem !== undefined) cert = new X509Certificate(certPem);
  } catch (err) {
    problemFor(load, 'sslCertPath', `a PEM certificate (${errorMessage(err)})`);
  }
  if (key && cert && !keyMatches(cert, key)) {
    problemFor(load, 'sslKeyPath', 'the private key of the certificate in SSL_CERT_PATH (this key does not match it)');
  }
}

function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false; // a key of another type (EC key, RSA certificate) cannot match
  }
}

function checkSizes(load: Load): void {
  const { maxFrameBytes, maxChunkBytes, maxStreamBacklogBytes } = load.values;
  if (maxFrameBytes !== undefined && maxChunkBytes !== undefined && maxChunkBytes < maxFrameBytes) {
    problemFor(load, 'maxChunkBytes', `at least MAX_FRAME_BYTES (${maxFrameBytes}), so that one frame fits in a chunk`);
  }
  if (maxChunkBytes !== undefined && maxStreamBacklogBytes !== undefined && maxStreamBacklogBytes < maxChunkBytes) {
    problemFor(
      load,
      'maxStreamBacklogBytes',
      `at least MAX_CHUNK_BYTES (${maxChunkBytes}), so that a full chunk fits in the backlog`,
    );
  }
  const { port, metricsPort } = load.values;
  if (port !== undefined && metricsPort !== undefined && port === metricsPort) {
    problemFor(load, 'metricsPort', `a port other than PORT (${port}): metrics stay off the public listener`);
  }
}

const EXOTEL_KEYS: readonly Key[] = [
  'exotelBasicAuth',
  'exotelAllowedCidrs',
  'exotelAccountTenants',
  'exotelDefaultTenant',
  'exotelAllowUnauthenticated',
];

/** Telephony sources (docs/telephony.md): each must recognise its provider and find a tenant. */
function checkTelephony(load: Load): void {
  const v = load.values;
  const {
    exotelBasicAuth = [],
    exotelAllowedCidrs = [],
    exotelAccountTenants = [],
    exotelDefaultTenant = '',
    twilioAccountTenants = [],
  } = v;
  checkUnique(
    load,
    'exotelBasicAuth',
    exotelBasicAuth.map((e) => splitCredentialEntry(e)?.user),
    'each user once',
  );
  checkUnique(
    load,
    'exotelAccountTenants',
    exotelAccountTenants.map((e) => splitTenantEntry(e)?.key),
    'each account_sid once',
  );
  checkUnique(
    load,
    'twilioAccountTenants',
    twilioAccountTenants.map((e) => splitTenantEntry(e)?.key),
    'each AccountSid once',
  );
  if (exotelDefaultTenant !== '' && !TENANT_PATTERN.test(exotelDefaultTenant)) {
    problemFor(load, 'exotelDefaultTenant', 'a tenant id of 1-128 characters without whitespace, commas or =');
  }
  // A list that failed its own format counts as set: its problem is already reported.
  const has = (key: Key, list: readonly string[]): boolean =>
    list.length > 0 || (load.given.has(key) && load.values[key] === undefined);
  const hasCredentials = has('exotelBasicAuth', exotelBasicAuth);
  if (v.supportExotel) {
    if (!hasCredentials && !has('exotelAllowedCidrs', exotelAllowedCidrs) && v.exotelAllowUnauthenticated === false) {
      problemFor(
        load,
        'exotelBasicAuth',
        'user:password=tenant entries, or source ranges in EXOTEL_ALLOWED_CIDRS (required with SUPPORT_EXOTEL=true so that only Exotel can stream; to accept anyone, set EXOTEL_ALLOW_UNAUTHENTICATED=true, never in production)',
      );
    }
    if (!hasCredentials && !has('exotelAccountTenants', exotelAccountTenants) && exotelDefaultTenant === '') {
      problemFor(
        load,
        'exotelDefaultTenant',
        'a tenant id (with SUPPORT_EXOTEL=true every stream needs a tenant: from its EXOTEL_BASIC_AUTH user, from EXOTEL_ACCOUNT_TENANTS, or this default)',
      );
    }
    if (v.exotelAllowUnauthenticated) {
      load.warnings.push(
        'EXOTEL_ALLOW_UNAUTHENTICATED=true: Exotel streams are accepted from anyone who can reach /v1/ingest or /v1/exotel, without credentials or an allowed source address; set EXOTEL_BASIC_AUTH or EXOTEL_ALLOWED_CIDRS and turn this off',
      );
    }
  } else if (EXOTEL_KEYS.some((key) => load.given.has(key))) {
    load.warnings.push('EXOTEL_* settings are ignored: SUPPORT_EXOTEL is not true');
  }
  const { twilioAuthToken, twilioPublicUrl } = v;
  if (twilioAuthToken && twilioPublicUrl === '')
    problemFor(
      load,
      'twilioPublicUrl',
      'the wss:// URL given to Twilio (required with TWILIO_AUTH_TOKEN: the signature covers it)',
    );
  if (twilioPublicUrl && twilioAuthToken === '')
    problemFor(
      load,
      'twilioAuthToken',
      'the Twilio auth token (required with TWILIO_PUBLIC_URL: it checks X-Twilio-Signature)',
    );
  if (twilioAuthToken && twilioPublicUrl && !has('twilioAccountTenants', twilioAccountTenants)) {
    problemFor(
      load,
      'twilioAccountTenants',
      'at least one AccountSid=tenant (Twilio streams take their tenant from this map)',
    );
  }
}

function checkUnique(load: Load, key: Key, names: ReadonlyArray<string | undefined>, expected: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (name === undefined) continue;
    if (seen.has(name)) return problemFor(load, key, `${expected} (${name} appears twice)`);
    seen.add(name);
  }
}

function collectWarnings(load: Load): void {
  const { nodeEnv, pubsubAdapter, sslKeyPath, sslCertPath, trustedProxies } = load.values;
  if (nodeEnv !== 'production') return;
  if (pubsubAdapter === 'in_memory') {
    load.warnings.push(
      'PUBSUB_ADAPTER=in_memory with NODE_ENV=production: records are kept in process memory and lost on restart',
    );
  }
  if (sslKeyPath === '' && sslCertPath === '' && trustedProxies?.length === 0) {
    load.warnings.push(
      'NODE_ENV=production with no TLS and no proxy hint: tokens travel in clear unless a TLS proxy is in front; set TRUSTED_PROXIES to say one is',
    );
  }
}

function readText(load: Load, key: Key, expected: string): string | undefined {
  try {
    return fs.readFileSync(String(load.values[key]), 'utf8');
  } catch (err) {
    problemFor(load, key, `${expected} (${errorMessage(err)})`);
    return undefined;
  }
}
