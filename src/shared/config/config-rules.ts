/**
 * The rules that relate several keys, which convict's per-key formats cannot
 * express. They run after every key has passed or failed its own format and
 * skip a key that failed (its problem is already reported), so that an
 * operator sees every problem in one round.
 */
import fs from 'node:fs';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { parsePublicKeys } from '../auth/public-keys';
import type { Config } from './config-schema';
import { errorMessage } from '../errors';
import { checkTelephony } from './telephony-rules';
import { untaggedKeyProblem } from '../publishing/redis-streams/stream-key-template';

type Key = keyof Config;

/** What the rules see of one load, and how they report. */
export interface Loaded {
  /** Only the keys whose value passed its format; a rule may fill in derived values. */
  readonly values: Partial<Config>;
  /** Whether the key was set (environment or CONFIG_FILE) rather than left at its default. */
  isSet(key: Key): boolean;
  /** Reports a problem with `key`, shown with its value as given (or defaulted). */
  problem(key: Key, expected: string): void;
  warn(message: string): void;
}

export function applyRules(ctx: Loaded): void {
  // The adapter's default depends on NODE_ENV, which a convict default cannot.
  if (!ctx.isSet('pubsubAdapter') && ctx.values.nodeEnv === 'production') ctx.values.pubsubAdapter = 'redis_streams';
  checkBackend(ctx);
  checkJwtKeys(ctx);
  checkTls(ctx);
  checkSizes(ctx);
  checkTelephony(ctx);
  checkTenantLimits(ctx);
  collectWarnings(ctx);
}

function checkBackend(ctx: Loaded): void {
  const { pubsubAdapter, redisUrl, kafkaBrokers } = ctx.values;
  const why = ctx.isSet('pubsubAdapter') ? '' : ', the default with NODE_ENV=production';
  const topology = (ctx.values.redisClusterNodes?.length ?? 0) > 0 || (ctx.values.redisSentinels?.length ?? 0) > 0;
  if (pubsubAdapter === 'redis_streams' && redisUrl === '' && !topology) {
    ctx.problem(
      'redisUrl',
      `a redis:// or rediss:// URL, or REDIS_CLUSTER_NODES or REDIS_SENTINELS (required when ` +
        `PUBSUB_ADAPTER=redis_streams${why})`,
    );
  }
  checkRedisTopology(ctx);
  if (pubsubAdapter === 'kafka' && kafkaBrokers?.length === 0) {
    ctx.problem('kafkaBrokers', 'at least one host:port (required when PUBSUB_ADAPTER=kafka)');
  }
  if (pubsubAdapter === 'kafka') checkKafkaSecurity(ctx);
}

/** Where the MAX_STREAMS_PER_TENANT leases live (docs/operations.md): an ignored LIMITS_REDIS_URL is said. */
function checkTenantLimits(ctx: Loaded): void {
  const { pubsubAdapter, limitsRedisUrl, maxStreamsPerTenant } = ctx.values;
  if (pubsubAdapter === 'redis_streams' && limitsRedisUrl && maxStreamsPerTenant !== 0) {
    ctx.warn('LIMITS_REDIS_URL is ignored with PUBSUB_ADAPTER=redis_streams: the tenant leases live in REDIS_URL');
  }
}

/** Cluster and Sentinel exclude each other; a sentinel group needs its name; a cluster key needs its hash tag. */
function checkRedisTopology(ctx: Loaded): void {
  const {
    pubsubAdapter,
    redisClusterNodes,
    redisSentinels,
    redisSentinelName,
    redisStreamKey,
    redisClusterAllowUntaggedKey,
  } = ctx.values;
  const cluster = (redisClusterNodes?.length ?? 0) > 0;
  const sentinel = (redisSentinels?.length ?? 0) > 0;
  if (cluster && sentinel) {
    ctx.problem('redisSentinels', 'unset when REDIS_CLUSTER_NODES is set (a Redis Cluster or Sentinel, not both)');
  }
  if (sentinel && redisSentinelName === '') {
    ctx.problem('redisSentinelName', 'the master group name the sentinels monitor (required with REDIS_SENTINELS)');
  }
  // The stream key is the redis_streams adapter's only: another adapter never writes it.
  const streamsToCluster = cluster && pubsubAdapter === 'redis_streams';
  if (streamsToCluster && redisStreamKey !== undefined && redisClusterAllowUntaggedKey === false) {
    const why = untaggedKeyProblem(redisStreamKey);
    if (why) {
      ctx.problem(
        'redisStreamKey',
        `a key whose first {…} is {tenant_id} or {interaction_id} with REDIS_CLUSTER_NODES (${why}; ` +
          'set REDIS_CLUSTER_ALLOW_UNTAGGED_KEY=true to accept that)',
      );
    }
  }
}

function checkKafkaSecurity(ctx: Loaded): void {
  const { kafkaSaslMechanism, kafkaSaslUsername, kafkaSaslPassword, kafkaSsl, kafkaSslCaFile } = ctx.values;
  if (kafkaSaslMechanism) {
    if (!kafkaSaslUsername)
      ctx.problem('kafkaSaslUsername', `a user name (required with KAFKA_SASL_MECHANISM=${kafkaSaslMechanism})`);
    if (!kafkaSaslPassword)
      ctx.problem('kafkaSaslPassword', `a password (required with KAFKA_SASL_MECHANISM=${kafkaSaslMechanism})`);
  }
  if (kafkaSslCaFile) {
    if (!kafkaSsl) ctx.problem('kafkaSslCaFile', 'unset unless KAFKA_SSL=true (a CA file without TLS does nothing)');
    else readText(ctx, 'kafkaSslCaFile', 'a readable PEM CA file');
  }
}

function checkJwtKeys(ctx: Loaded): void {
  const { jwtPublicKey, jwtPublicKeyFile, jwtJwksUrl, nodeEnv, supportExotel } = ctx.values;
  if (jwtPublicKey && jwtPublicKeyFile) {
    ctx.problem('jwtPublicKeyFile', 'unset when JWT_PUBLIC_KEY is set (configure the key in one place only)');
  }
  if (jwtPublicKey) {
    const bad = publicKeysProblem(jwtPublicKey);
    if (bad) ctx.problem('jwtPublicKey', `one or more PEM public keys (${bad})`);
  }
  if (jwtPublicKeyFile) {
    const text = readText(ctx, 'jwtPublicKeyFile', 'a readable file of PEM public keys');
    const bad = text === undefined ? undefined : publicKeysProblem(text);
    if (bad) ctx.problem('jwtPublicKeyFile', `a file of one or more PEM public keys (${bad})`);
    // Workers get the key itself, so they never read (or race on) the file.
    else if (text !== undefined && !jwtPublicKey) ctx.values.jwtPublicKey = text;
  }
  const noKey = jwtPublicKey === '' && jwtPublicKeyFile === '' && jwtJwksUrl === '';
  if (nodeEnv === 'production' && supportExotel === false && noKey) {
    ctx.problem(
      'jwtPublicKey',
      'a PEM public key in JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE, or a key set in JWT_JWKS_URL (required when ' +
        'NODE_ENV=production unless SUPPORT_EXOTEL=true)',
    );
  }
  checkJwksTimes(ctx);
}

/** The key set's timers relate: fetches at most once per cooldown, and a cache younger than its max age. */
function checkJwksTimes(ctx: Loaded): void {
  const { jwtJwksRefreshMs, jwtJwksCooldownMs, jwtJwksCacheMaxAgeMs } = ctx.values;
  if (jwtJwksRefreshMs !== undefined && jwtJwksCooldownMs !== undefined && jwtJwksCooldownMs > jwtJwksRefreshMs) {
    ctx.problem(
      'jwtJwksCooldownMs',
      `at most JWT_JWKS_REFRESH_MS (${jwtJwksRefreshMs}): the background refresh is one of the fetches it spaces`,
    );
  }
  if (
    jwtJwksRefreshMs !== undefined &&
    jwtJwksCacheMaxAgeMs !== undefined &&
    jwtJwksCacheMaxAgeMs <= jwtJwksRefreshMs
  ) {
    ctx.problem(
      'jwtJwksCacheMaxAgeMs',
      `more than JWT_JWKS_REFRESH_MS (${jwtJwksRefreshMs}), else health turns degraded between two refreshes`,
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

function checkTls(ctx: Loaded): void {
  const { sslKeyPath, sslCertPath } = ctx.values;
  if (sslKeyPath === undefined || sslCertPath === undefined || (!sslKeyPath && !sslCertPath)) return;
  if (!sslKeyPath)
    ctx.problem('sslKeyPath', 'a PEM private key path, set together with SSL_CERT_PATH (both or neither)');
  if (!sslCertPath)
    ctx.problem('sslCertPath', 'a PEM certificate path, set together with SSL_KEY_PATH (both or neither)');
  const keyPem = sslKeyPath ? readText(ctx, 'sslKeyPath', 'a readable PEM private key file') : undefined;
  const certPem = sslCertPath ? readText(ctx, 'sslCertPath', 'a readable PEM certificate file') : undefined;
  let key: KeyObject | undefined;
  let cert: X509Certificate | undefined;
  try {
    if (keyPem !== undefined) key = createPrivateKey(keyPem);
  } catch (err) {
    ctx.problem('sslKeyPath', `an unencrypted PEM private key (${errorMessage(err)})`);
  }
  try {
    if (certPem !== undefined) cert = new X509Certificate(certPem);
  } catch (err) {
    ctx.problem('sslCertPath', `a PEM certificate (${errorMessage(err)})`);
  }
  if (key && cert && !keyMatches(cert, key)) {
    ctx.problem('sslKeyPath', 'the private key of the certificate in SSL_CERT_PATH (this key does not match it)');
  }
}

function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false; // a key of another type (EC key, RSA certificate) cannot match
  }
}

function checkSizes(ctx: Loaded): void {
  const { maxFrameBytes, maxChunkBytes, maxStreamBacklogBytes } = ctx.values;
  if (maxFrameBytes !== undefined && maxChunkBytes !== undefined && maxChunkBytes < maxFrameBytes) {
    ctx.problem('maxChunkBytes', `at least MAX_FRAME_BYTES (${maxFrameBytes}), so that one frame fits in a chunk`);
  }
  if (maxChunkBytes !== undefined && maxStreamBacklogBytes !== undefined && maxStreamBacklogBytes < maxChunkBytes) {
    ctx.problem(
      'maxStreamBacklogBytes',
      `at least MAX_CHUNK_BYTES (${maxChunkBytes}), so that a full chunk fits in the backlog`,
    );
  }
  const { port, metricsPort } = ctx.values;
  if (port !== undefined && metricsPort !== undefined && port === metricsPort) {
    ctx.problem('metricsPort', `a port other than PORT (${port}): metrics stay off the public listener`);
  }
}

function collectWarnings(ctx: Loaded): void {
  const { nodeEnv, pubsubAdapter, sslKeyPath, sslCertPath, trustedProxies } = ctx.values;
  if (nodeEnv !== 'production') return;
  if (pubsubAdapter === 'in_memory') {
    ctx.warn(
      'PUBSUB_ADAPTER=in_memory with NODE_ENV=production: records are kept in process memory and lost on restart',
    );
  }
  if (sslKeyPath === '' && sslCertPath === '' && trustedProxies?.length === 0) {
    ctx.warn(
      'NODE_ENV=production with no TLS and no proxy hint: tokens travel in clear unless a TLS proxy is in ' +
        'front; set TRUSTED_PROXIES to say one is',
    );
  }
}

function readText(ctx: Loaded, key: Key, expected: string): string | undefined {
  try {
    return fs.readFileSync(String(ctx.values[key]), 'utf8');
  } catch (err) {
    ctx.problem(key, `${expected} (${errorMessage(err)})`);
    return undefined;
  }
}
