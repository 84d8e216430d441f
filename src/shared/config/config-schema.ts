/**
 * The one configuration schema. Every key has doc, format, default and env; the
 * environment variable names are the public contract (README, docs/config.md,
 * acceptance tests). `Config` is the typed, validated result the primary hands
 * to workers as a frozen copy.
 *
 * Formats here check one value each; rules that relate several keys live in
 * config.ts (crossChecks) so that every problem is reported at once.
 */
import net from 'node:net';
import os from 'node:os';
import type convict from 'convict';
import { ADAPTER_NAMES, type AdapterName } from './adapter-names';
import { ASYMMETRIC_ALGORITHMS, isAsymmetricAlgorithm } from '../auth/jwt-algorithms';
import { splitCredentialEntry, splitTenantEntry } from './telephony-entries';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  nodeEnv: string;
  host: string;
  port: number;
  workers: number;
  logLevel: LogLevel;

  bufferDurationMs: number;
  ackInterval: number;
  maxFrameBytes: number;
  maxChunkBytes: number;
  maxStreamBacklogBytes: number;
  backpressureTimeoutMs: number;
  startTimeoutMs: number;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  shutdownTimeoutMs: number;
  drainTimeoutMs: number;
  metricsPort: number;
  metricsHost: string;
  metricsScrapeTimeoutMs: number;

  pubsubAdapter: AdapterName;
  backendConnectTimeoutMs: number;
  backendUnhealthyAfterMs: number;
  redisUrl: string;
  redisStreamKey: string;
  redisStreamMaxlen: number;
  kafkaBrokers: string[];
  kafkaTopic: string;
  kafkaClientId: string;
  kafkaSsl: boolean;
  kafkaSslCaFile: string;
  kafkaSaslMechanism: '' | 'plain' | 'scram-sha-256' | 'scram-sha-512';
  kafkaSaslUsername: string;
  kafkaSaslPassword: string;
  kafkaCompression: 'none' | 'gzip';
  kafkaCreateTopic: boolean;
  kafkaTopicPartitions: number;
  kafkaTopicReplication: number;

  jwtPublicKey: string;
  jwtPublicKeyFile: string;
  jwtAlgorithms: string[];
  jwtIssuer: string;
  jwtAudience: string;
  jwtTenantClaim: string;
  jwtClockToleranceS: number;
  allowedTenants: string[];

  maxConnectionsPerWorker: number;
  maxConnectionsPerTenant: number;
  maxConnectionsPerIp: number;
  trustedProxies: string[];

  supportExotel: boolean;
  exotelBasicAuth: string[];
  exotelAllowedCidrs: string[];
  exotelAccountTenants: string[];
  exotelDefaultTenant: string;
  exotelAllowUnauthenticated: boolean;
  twilioAuthToken: string;
  twilioPublicUrl: string;
  twilioAccountTenants: string[];
  sslKeyPath: string;
  sslCertPath: string;
}

export const DEFAULT_JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'];

const MiB = 1024 * 1024;

function defaultWorkers(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Builds a format that checks an integer range; convict's own `int` format gives
 * no range and a terse message.
 */
export function intRange(min: number, max: number): convict.Format {
  return {
    name: `int ${min}-${max}`,
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new Error(`an integer from ${min} to ${max}`);
      }
    },
    coerce: (value: unknown) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value),
  };
}

/**
 * Comma-separated list in the environment, array in a JSON file. Each list gets
 * its own `name` because docs/config.md shows it as the allowed values (and
 * convict keys custom formats by name, so equal names would collide).
 */
export function list(
  check?: (item: string) => string | undefined,
  opts: { name?: string; nonEmpty?: boolean } = {},
): convict.Format {
  const name = opts.name ?? 'comma-separated list';
  return {
    name,
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error(name);
      if (opts.nonEmpty && value.length === 0) throw new Error(`${name}, not empty`);
      for (const item of value) {
        if (typeof item !== 'string') throw new Error('a comma-separated list of strings');
        const problem = check?.(item);
        if (problem) throw new Error(problem);
      }
    },
    coerce: (value: unknown) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0)
        : value,
  };
}

export function oneOf<T extends string>(values: readonly T[]): convict.Format {
  return {
    name: values.join(' | '),
    validate(value: unknown) {
      if (typeof value !== 'string' || !values.includes(value as T)) {
        throw new Error(`one of: ${values.join(', ')}`);
      }
    },
  };
}

const bool: convict.Format = {
  name: 'boolean',
  validate(value: unknown) {
    if (typeof value !== 'boolean') throw new Error('true or false');
  },
  coerce: (value: unknown) => {
    if (typeof value !== 'string') return value;
    const v = value.trim().toLowerCase();
    if (v === 'true' || v === '1' || v === 'yes') return true;
    if (v === 'false' || v === '0' || v === 'no' || v === '') return false;
    return value;
  },
};

const str: convict.Format = {
  name: 'string',
  validate(value: unknown) {
    if (typeof value !== 'string') throw new Error('a string');
  },
};

const redisUrl: convict.Format = {
  name: 'redis:// or rediss:// URL',
  validate(value: unknown) {
    if (value === '') return; // required only for redis_streams: checked in crossChecks
    if (typeof value !== 'string') throw new Error('a redis:// or rediss:// URL');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error('a redis:// or rediss:// URL');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('a redis:// or rediss:// URL');
    if (!url.hostname) throw new Error('a redis:// or rediss:// URL with a host');
  },
};

export function checkHostPort(entry: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
  if (!m) return `host:port entries (got "${entry}")`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `host:port entries with a port from 1 to 65535 (got "${entry}")`;
  return undefined;
}

function checkAlgorithm(alg: string): string | undefined {
  if (isAsymmetricAlgorithm(alg)) return undefined;
  return `asymmetric JWT algorithms only, from ${ASYMMETRIC_ALGORITHMS.join(', ')} (got "${alg}"; none and HMAC are never accepted)`;
}

export function checkCidr(entry: string): string | undefined {
  const [addr, bits, extra] = entry.split('/');
  if (extra !== undefined || !addr) return `IPv4/IPv6 addresses or CIDR ranges (got "${entry}")`;
  const family = net.isIP(addr);
  if (family === 0) return `IPv4/IPv6 addresses or CIDR ranges (got "${entry}")`;
  if (bits !== undefined) {
    const max = family === 4 ? 32 : 128;
    if (!/^\d+$/.test(bits) || Number(bits) > max) return `a prefix length from 0 to ${max} (got "${entry}")`;
  }
  return undefined;
}

function checkCredentialEntry(entry: string): string | undefined {
  // Never echo the entry: it holds a password.
  return splitCredentialEntry(entry)
    ? undefined
    : 'user:password=tenant entries (an entry is malformed: user, password and tenant must all be present)';
}

function checkTenantEntry(entry: string): string | undefined {
  return splitTenantEntry(entry) ? undefined : `account_sid=tenant entries (got "${entry}")`;
}

const twilioPublicUrl: convict.Format = {
  name: 'wss:// URL without query',
  validate(value: unknown) {
    if (value === '') return; // Twilio is off: checked with TWILIO_AUTH_TOKEN in crossChecks
    let url: URL | undefined;
    try {
      url = typeof value === 'string' ? new URL(value) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== 'wss:' || !url.hostname)
      throw new Error('the wss:// URL given to Twilio in <Stream url>, path included');
    // Twilio refuses stream URLs with a query string (error 31920) and signs the URL as given.
    if (url.search !== '' || url.hash !== '' || String(value).includes('?'))
      throw new Error('a wss:// URL without query string or fragment (Twilio refuses them; use <Parameter>)');
  },
};

/** Keys whose values are secrets: masked in every report and log. */
export const SENSITIVE_KEYS: ReadonlyArray<keyof Config> = [
  'jwtPublicKey',
  'redisUrl',
  'kafkaSaslPassword',
  'exotelBasicAuth',
  'twilioAuthToken',
];

export const schema: convict.Schema<Config> = {
  nodeEnv: {
    doc: 'Environment; `production` makes a JWT key required and the default adapter redis_streams.',
    format: str,
    default: 'development',
    env: 'NODE_ENV',
  },
  host: { doc: 'Address to listen on.', format: str, default: '0.0.0.0', env: 'HOST' },
  port: {
    doc: 'Port for WebSocket streams and /health, shared by all workers.',
    format: intRange(1, 65535),
    default: 5000,
    env: 'PORT',
  },
  workers: {
    doc: 'Worker processes (default: the available parallelism of the machine).',
    format: intRange(1, 1024),
    default: defaultWorkers(),
    env: 'WORKERS',
  },
  logLevel: {
    doc: 'pino log level.',
    format: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    env: 'LOG_LEVEL',
  },

  bufferDurationMs: {
    doc: "A stream's frames are published as one record once the oldest buffered frame is this old.",
    format: intRange(100, 30000),
    default: 3000,
    env: 'BUFFER_DURATION_MS',
  },
  ackInterval: {
    doc: 'Send an ack after every N-th frame received.',
    format: intRange(1, 1000),
    default: 10,
    env: 'ACK_INTERVAL',
  },
  maxFrameBytes: {
    doc: 'Largest binary frame accepted; a larger one closes the stream with 1009.',
    format: intRange(1, 16 * MiB),
    default: 65536,
    env: 'MAX_FRAME_BYTES',
  },
  maxChunkBytes: {
    doc: "A stream's buffer is published as soon as it holds this many bytes.",
    format: intRange(1024, 64 * MiB),
    default: MiB,
    env: 'MAX_CHUNK_BYTES',
  },
  maxStreamBacklogBytes: {
    doc: 'Unpublished bytes per stream at which the server stops reading the socket.',
    format: intRange(1024, 1024 * MiB),
    default: 8 * MiB,
    env: 'MAX_STREAM_BACKLOG_BYTES',
  },
  backpressureTimeoutMs: {
    doc: 'How long a stream may stay paused at its backlog limit before it is closed with 1013.',
    format: intRange(100, 3600000),
    default: 30000,
    env: 'BACKPRESSURE_TIMEOUT_MS',
  },
  startTimeoutMs: {
    doc: 'Time allowed between the upgrade and the start message.',
    format: intRange(10, 600000),
    default: 5000,
    env: 'START_TIMEOUT_MS',
  },
  idleTimeoutMs: {
    doc: 'A started stream with no frame or keepalive for this long is ended (close 1000).',
    format: intRange(10, 86400000),
    default: 60000,
    env: 'IDLE_TIMEOUT_MS',
  },
  pingIntervalMs: {
    doc: 'Ping interval; a connection that has not answered the previous ping is terminated.',
    format: intRange(10, 3600000),
    default: 15000,
    env: 'PING_INTERVAL_MS',
  },
  drainTimeoutMs: {
    doc: 'Rolling restart (SIGHUP): how long an old worker lets its streams run on before it closes the rest with 1012.',
    format: intRange(0, 3600000),
    default: 30000,
    env: 'DRAIN_TIMEOUT_MS',
  },
  metricsPort: {
    doc: "Port of the primary's internal listener for /metrics (the whole cluster) and /health; never the public PORT.",
    format: intRange(1, 65535),
    default: 9464,
    env: 'METRICS_PORT',
  },
  metricsHost: { doc: 'Address the metrics listener binds to.', format: str, default: '0.0.0.0', env: 'METRICS_HOST' },
  metricsScrapeTimeoutMs: {
    doc: "How long a scrape waits for each worker's metrics; a late worker's numbers come from its last answer and it is counted in ingest_metrics_workers_missing.",
    format: intRange(10, 60000),
    default: 2000,
    env: 'METRICS_SCRAPE_TIMEOUT_MS',
  },
  shutdownTimeoutMs: {
    doc: 'Deadline for a graceful shutdown (flush and publish everything) on SIGTERM.',
    format: intRange(100, 3600000),
    default: 30000,
    env: 'SHUTDOWN_TIMEOUT_MS',
  },

  pubsubAdapter: {
    doc: 'Backend: redis_streams, kafka or in_memory (default redis_streams when NODE_ENV=production, else in_memory).',
    format: oneOf(ADAPTER_NAMES),
    default: 'in_memory',
    env: 'PUBSUB_ADAPTER',
  },
  backendConnectTimeoutMs: {
    doc: 'How long a worker waits for the backend at start before it reports a start-up failure.',
    format: intRange(100, 600000),
    default: 10000,
    env: 'BACKEND_CONNECT_TIMEOUT_MS',
  },
  backendUnhealthyAfterMs: {
    doc: 'Health turns unhealthy (503) once the backend has been unreachable this long (degraded before).',
    format: intRange(100, 3600000),
    default: 30000,
    env: 'BACKEND_UNHEALTHY_AFTER_MS',
  },
  redisUrl: {
    doc: 'Redis URL (redis:// or rediss://); required for redis_streams.',
    format: redisUrl,
    default: '',
    env: 'REDIS_URL',
    sensitive: true,
  },
  redisStreamKey: {
    doc: 'Stream key for XADD; `{tenant_id}` is replaced by the tenant.',
    format: str,
    default: 'ingest:audio',
    env: 'REDIS_STREAM_KEY',
  },
  redisStreamMaxlen: {
    doc: 'Approximate cap (XADD MAXLEN ~) on the stream length; 0 keeps everything.',
    format: intRange(0, Number.MAX_SAFE_INTEGER),
    default: 0,
    env: 'REDIS_STREAM_MAXLEN',
  },
  kafkaBrokers: {
    doc: 'Kafka brokers, comma-separated host:port; required for kafka.',
    format: list(checkHostPort, { name: 'comma-separated host:port list' }),
    default: [],
    env: 'KAFKA_BROKERS',
  },
  kafkaTopic: { doc: 'Kafka topic for records.', format: str, default: 'ingest.audio', env: 'KAFKA_TOPIC' },
  kafkaClientId: {
    doc: 'Kafka client id (shows in broker logs and quotas).',
    format: str,
    default: 'ingest',
    env: 'KAFKA_CLIENT_ID',
  },
  kafkaSsl: { doc: 'Connect to the brokers over TLS.', format: bool, default: false, env: 'KAFKA_SSL' },
  kafkaSslCaFile: {
    doc: "PEM file of the CA that signed the brokers' certificates (with KAFKA_SSL=true; default: the system CAs).",
    format: str,
    default: '',
    env: 'KAFKA_SSL_CA_FILE',
  },
  kafkaSaslMechanism: {
    doc: 'SASL mechanism: plain, scram-sha-256 or scram-sha-512 (empty: no SASL).',
    format: oneOf(['', 'plain', 'scram-sha-256', 'scram-sha-512']),
    default: '',
    env: 'KAFKA_SASL_MECHANISM',
  },
  kafkaSaslUsername: {
    doc: 'SASL user name (required with KAFKA_SASL_MECHANISM).',
    format: str,
    default: '',
    env: 'KAFKA_SASL_USERNAME',
  },
  kafkaSaslPassword: {
    doc: 'SASL password (required with KAFKA_SASL_MECHANISM).',
    format: str,
    default: '',
    env: 'KAFKA_SASL_PASSWORD',
    sensitive: true,
  },
  kafkaCompression: {
    doc: 'Compression of produced batches: none or gzip.',
    format: oneOf(['none', 'gzip']),
    default: 'none',
    env: 'KAFKA_COMPRESSION',
  },
  kafkaCreateTopic: {
    doc: 'Create KAFKA_TOPIC at start when missing (with KAFKA_TOPIC_PARTITIONS and KAFKA_TOPIC_REPLICATION); otherwise a missing topic fails start-up.',
    format: bool,
    default: false,
    env: 'KAFKA_CREATE_TOPIC',
  },
  kafkaTopicPartitions: {
    doc: 'Partitions of a topic created by KAFKA_CREATE_TOPIC.',
    format: intRange(1, 10000),
    default: 6,
    env: 'KAFKA_TOPIC_PARTITIONS',
  },
  kafkaTopicReplication: {
    doc: "Replication factor of a topic created by KAFKA_CREATE_TOPIC (-1: the broker's default.replication.factor).",
    format: intRange(-1, 100),
    default: -1,
    env: 'KAFKA_TOPIC_REPLICATION',
  },

  jwtPublicKey: {
    doc: 'One or more PEM public keys (concatenated) that verify stream tokens.',
    format: str,
    default: '',
    env: 'JWT_PUBLIC_KEY',
    sensitive: true,
  },
  jwtPublicKeyFile: {
    doc: 'File holding one or more PEM public keys (instead of JWT_PUBLIC_KEY).',
    format: str,
    default: '',
    env: 'JWT_PUBLIC_KEY_FILE',
  },
  jwtAlgorithms: {
    doc: 'Accepted JWT algorithms (asymmetric only).',
    format: list(checkAlgorithm, {
      name: `comma-separated list of ${ASYMMETRIC_ALGORITHMS.join(', ')}`,
      nonEmpty: true,
    }),
    default: DEFAULT_JWT_ALGORITHMS,
    env: 'JWT_ALGORITHMS',
  },
  jwtIssuer: { doc: 'Required `iss` claim, when set.', format: str, default: '', env: 'JWT_ISSUER' },
  jwtAudience: { doc: 'Required `aud` claim, when set.', format: str, default: '', env: 'JWT_AUDIENCE' },
  jwtTenantClaim: {
    doc: 'Token claim that names the tenant.',
    format: str,
    default: 'tenant_id',
    env: 'JWT_TENANT_CLAIM',
  },
  jwtClockToleranceS: {
    doc: 'Clock tolerance for exp/nbf/iat, in seconds.',
    format: intRange(0, 3600),
    default: 30,
    env: 'JWT_CLOCK_TOLERANCE_S',
  },
  allowedTenants: {
    doc: 'Tenants allowed to stream (comma-separated); empty allows every tenant. Others get 403.',
    format: list(),
    default: [],
    env: 'ALLOWED_TENANTS',
  },

  maxConnectionsPerWorker: {
    doc: 'Open streams per worker before upgrades get 429 (0: no limit).',
    format: intRange(0, 10000000),
    default: 10000,
    env: 'MAX_CONNECTIONS_PER_WORKER',
  },
  maxConnectionsPerTenant: {
    doc: 'Open streams per tenant per worker before upgrades get 429 (0: no limit).',
    format: intRange(0, 10000000),
    default: 0,
    env: 'MAX_CONNECTIONS_PER_TENANT',
  },
  maxConnectionsPerIp: {
    doc: 'Open streams per source address per worker before upgrades get 429 (0: no limit).',
    format: intRange(0, 10000000),
    default: 0,
    env: 'MAX_CONNECTIONS_PER_IP',
  },
  trustedProxies: {
    doc: 'Proxies (IPs or CIDR ranges) whose X-Forwarded-For is believed; also tells the service TLS ends in front of it.',
    format: list(checkCidr, { name: 'comma-separated list of IP addresses or CIDR ranges' }),
    default: [],
    env: 'TRUSTED_PROXIES',
  },

  supportExotel: {
    doc: 'Accept Exotel streams (Stream and Voicebot applets) on /v1/ingest (Basic or no Authorization) and /v1/exotel; see docs/telephony.md.',
    format: bool,
    default: false,
    env: 'SUPPORT_EXOTEL',
  },
  exotelBasicAuth: {
    doc: "Exotel Basic credentials, comma-separated `user:password=tenant` (the user's streams belong to that tenant). Passwords may not contain commas.",
    format: list(checkCredentialEntry, { name: 'comma-separated list of user:password=tenant' }),
    default: [],
    env: 'EXOTEL_BASIC_AUTH',
    sensitive: true,
  },
  exotelAllowedCidrs: {
    doc: 'Source addresses (IPs or CIDR ranges) accepted as Exotel without credentials; the address is read from X-Forwarded-For only behind TRUSTED_PROXIES.',
    format: list(checkCidr, { name: 'comma-separated list of IPv4/IPv6 addresses or CIDR ranges' }),
    default: [],
    env: 'EXOTEL_ALLOWED_CIDRS',
  },
  exotelAccountTenants: {
    doc: 'Tenant of an Exotel stream by the account_sid in its start message, comma-separated `account_sid=tenant` (used when the Basic user names no tenant).',
    format: list(checkTenantEntry, { name: 'comma-separated list of account_sid=tenant' }),
    default: [],
    env: 'EXOTEL_ACCOUNT_TENANTS',
  },
  exotelDefaultTenant: {
    doc: 'Tenant of an Exotel stream that neither its Basic user nor EXOTEL_ACCOUNT_TENANTS maps (empty: such streams are closed with 1008).',
    format: str,
    default: '',
    env: 'EXOTEL_DEFAULT_TENANT',
  },
  exotelAllowUnauthenticated: {
    doc: 'Accept Exotel connections that prove nothing (no credentials, address outside EXOTEL_ALLOWED_CIDRS). Logged as a warning at every start; never in production.',
    format: bool,
    default: false,
    env: 'EXOTEL_ALLOW_UNAUTHENTICATED',
  },
  twilioAuthToken: {
    doc: 'Twilio auth token: checks the X-Twilio-Signature of /v1/twilio upgrades. With TWILIO_PUBLIC_URL it enables Twilio Media Streams.',
    format: str,
    default: '',
    env: 'TWILIO_AUTH_TOKEN',
    sensitive: true,
  },
  twilioPublicUrl: {
    doc: 'The wss:// URL Twilio is given in TwiML `<Stream url="…">` (path included, exactly as written there): the signature covers it.',
    format: twilioPublicUrl,
    default: '',
    env: 'TWILIO_PUBLIC_URL',
  },
  twilioAccountTenants: {
    doc: 'Tenant of a Twilio stream by the accountSid in its start message, comma-separated `account_sid=tenant`; other accounts are closed with 1008.',
    format: list(checkTenantEntry, { name: 'comma-separated list of AccountSid=tenant' }),
    default: [],
    env: 'TWILIO_ACCOUNT_TENANTS',
  },
  sslKeyPath: {
    doc: 'TLS private key (PEM); with SSL_CERT_PATH the server speaks HTTPS/WSS.',
    format: str,
    default: '',
    env: 'SSL_KEY_PATH',
  },
  sslCertPath: {
    doc: 'TLS certificate chain (PEM); with SSL_KEY_PATH.',
    format: str,
    default: '',
    env: 'SSL_CERT_PATH',
  },
};
