/**
 * The one configuration schema. Every key has doc, format, default and env; the
 * environment variable names are the public contract (README, docs/config.md,
 * acceptance tests). `Config`, the typed and validated result the primary
 * hands to workers as a frozen copy, is derived from it.
 *
 * Formats (config-formats.ts) check one value each; rules that relate several
 * keys are in config-rules.ts, so that every problem is reported at once.
 */
import os from 'node:os';
import v8 from 'node:v8';
import { ADAPTER_NAMES } from './adapter-names';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from '../auth/jwt-algorithms';
import {
  bool,
  checkAlgorithm,
  checkCidr,
  checkCredentialEntry,
  checkHostPort,
  checkTenantEntry,
  intRange,
  jwksUrl,
  list,
  oneOf,
  redisUrl,
  str,
  twilioPublicUrl,
  type ValueFormat,
} from './config-formats';

/** One key of the schema: convict's schema object, with a format that carries the value type. */
export interface Setting<T> {
  readonly doc: string;
  readonly format: ValueFormat<T>;
  readonly default: T;
  readonly env: string;
  /** A secret: masked in every report and log (convict's own flag). */
  readonly sensitive?: true;
}

/** Ties a key's default to its format's type: the format alone decides what that type is. */
function setting<T>(item: {
  readonly doc: string;
  readonly format: ValueFormat<T>;
  readonly default: NoInfer<T>;
  readonly env: string;
  readonly sensitive?: true;
}): Setting<T> {
  return item;
}

export const DEFAULT_JWT_ALGORITHMS: AsymmetricAlgorithm[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'];

const MiB = 1024 * 1024;

/** KAFKA_BROKERS, REDIS_CLUSTER_NODES, REDIS_SENTINELS: one format (convict keeps formats by name). */
const hostPortList = list(checkHostPort, { name: 'comma-separated host:port list' });

/**
 * MAX_WORKER_BACKLOG_BYTES by default: an eighth of the V8 heap limit. The
 * backlog itself is audio in Buffers, outside the V8 heap, so the heap limit
 * does not cap it; but Node sizes that limit from the memory of the machine or
 * container (and --max-old-space-size lowers it), which makes it the one
 * memory figure every worker already has. An eighth leaves room for the heap
 * itself (sessions, records, sockets) and for several workers per machine:
 * with a 4 GiB heap limit it is 512 MiB per worker. Workers inherit the
 * primary's Node options, so the primary's figure is theirs.
 */
export const WORKER_BACKLOG_HEAP_FRACTION = 8;

function defaultWorkerBacklogBytes(): number {
  return Math.max(16 * MiB, Math.floor(v8.getHeapStatistics().heap_size_limit / WORKER_BACKLOG_HEAP_FRACTION));
}

function defaultWorkers(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export const schema = {
  nodeEnv: setting({
    doc:
      'Environment; `production` makes a JWT key (PEM or JWT_JWKS_URL) required and the default adapter ' +
      'redis_streams.',
    format: str,
    default: 'development',
    env: 'NODE_ENV',
  }),
  host: setting({ doc: 'Address to listen on.', format: str, default: '0.0.0.0', env: 'HOST' }),
  port: setting({
    doc: 'Port for WebSocket streams and /health, shared by all workers.',
    format: intRange(1, 65535),
    default: 5000,
    env: 'PORT',
  }),
  workers: setting({
    doc: 'Worker processes (default: the available parallelism of the machine).',
    format: intRange(1, 1024),
    default: defaultWorkers(),
    env: 'WORKERS',
  }),
  workerMaxSemiSpaceMb: setting({
    doc:
      "Each worker's V8 young-generation semi-space cap in MiB (node --max-semi-space-size); 0 leaves V8's " +
      'default (up to 64). V8 grows it with the connections and never gives it back: the cap saves about ' +
      '100 MiB per worker at no measured CPU cost (docs/benchmarks.md).',
    format: intRange(0, 1024),
    default: 16,
    env: 'WORKER_MAX_SEMI_SPACE_MB',
  }),
  workerHeapGrowingPercent: setting({
    doc:
      "How far each worker's V8 old generation may grow past what survived the last full collection before " +
      'the next one starts, in percent (node --heap-growing-percent); 0 leaves it to V8. V8 sizes that room by ' +
      'how fast the old generation fills; a worker promotes little, so V8 leaves less room than the young ' +
      'generation could promote and runs a full collection about four times a second. 300 (room for three ' +
      'times the live heap) saves that CPU for a few MiB per worker (docs/benchmarks.md).',
    format: intRange(0, 1000),
    default: 300,
    env: 'WORKER_HEAP_GROWING_PERCENT',
  }),
  logLevel: setting({
    doc: 'pino log level.',
    format: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    env: 'LOG_LEVEL',
  }),

  bufferDurationMs: setting({
    doc: "A stream's frames are published as one record once the oldest buffered frame is this old.",
    format: intRange(100, 30000),
    default: 3000,
    env: 'BUFFER_DURATION_MS',
  }),
  ackInterval: setting({
    doc: 'Send an ack after every N-th frame received.',
    format: intRange(1, 1000),
    default: 10,
    env: 'ACK_INTERVAL',
  }),
  maxFrameBytes: setting({
    doc: 'Largest binary frame accepted; a larger one closes the stream with 1009.',
    format: intRange(1, 16 * MiB),
    default: 65536,
    env: 'MAX_FRAME_BYTES',
  }),
  maxChunkBytes: setting({
    doc: "A stream's buffer is published as soon as it holds this many bytes.",
    format: intRange(1024, 64 * MiB),
    default: MiB,
    env: 'MAX_CHUNK_BYTES',
  }),
  maxStreamBacklogBytes: setting({
    doc: 'Unpublished bytes per stream at which the server stops reading the socket.',
    format: intRange(1024, 1024 * MiB),
    default: 8 * MiB,
    env: 'MAX_STREAM_BACKLOG_BYTES',
  }),
  maxSendBufferBytes: setting({
    doc:
      'Bytes of replies (ack, committed, ...) a connection may leave unsent because its client does not read; ' +
      'past it the stream is closed with 1008 (send_buffer_full).',
    format: intRange(4096, 64 * MiB),
    default: 256 * 1024,
    env: 'MAX_SEND_BUFFER_BYTES',
  }),
  maxWorkerBacklogBytes: setting({
    doc:
      'Unpublished bytes per worker, live and closed streams together, at which the worker refuses new ' +
      'streams (503 `worker_backlog_full`) and stops reading its live ones until the total falls below.',
    format: intRange(MiB, 1024 * 1024 * MiB),
    default: defaultWorkerBacklogBytes(),
    env: 'MAX_WORKER_BACKLOG_BYTES',
  }),
  closedStreamRetentionMs: setting({
    doc:
      "How long a stream's unpublished data is kept (and retried) after its socket closed; then it is given " +
      'up, counted in ingest_lost_bytes_total{reason="retention_expired"} and logged.',
    format: intRange(100, 86400000),
    default: 60000,
    env: 'CLOSED_STREAM_RETENTION_MS',
  }),
  backpressureTimeoutMs: setting({
    doc:
      'How long a stream may stay paused at its backlog limit (MAX_STREAM_BACKLOG_BYTES, or the ' +
      "worker's MAX_WORKER_BACKLOG_BYTES) before it is closed with 1013.",
    format: intRange(100, 3600000),
    default: 30000,
    env: 'BACKPRESSURE_TIMEOUT_MS',
  }),
  startTimeoutMs: setting({
    doc: 'Time allowed between the upgrade and the start message.',
    format: intRange(10, 600000),
    default: 5000,
    env: 'START_TIMEOUT_MS',
  }),
  idleTimeoutMs: setting({
    doc: 'A started stream with no frame or keepalive for this long is ended (close 1000).',
    format: intRange(10, 86400000),
    default: 60000,
    env: 'IDLE_TIMEOUT_MS',
  }),
  pingIntervalMs: setting({
    doc: 'Ping interval; a connection that has not answered the previous ping is terminated.',
    format: intRange(10, 3600000),
    default: 15000,
    env: 'PING_INTERVAL_MS',
  }),
  drainTimeoutMs: setting({
    doc:
      'Rolling restart (SIGHUP): how long an old worker lets its streams run on before it closes the rest ' +
      'with 1012.',
    format: intRange(0, 3600000),
    default: 30000,
    env: 'DRAIN_TIMEOUT_MS',
  }),
  metricsPort: setting({
    doc: "Port of the primary's internal listener for /metrics (the whole cluster) and /health; never the public PORT.",
    format: intRange(1, 65535),
    default: 9464,
    env: 'METRICS_PORT',
  }),
  metricsHost: setting({
    doc: 'Address the metrics listener binds to.',
    format: str,
    default: '0.0.0.0',
    env: 'METRICS_HOST',
  }),
  metricsScrapeTimeoutMs: setting({
    doc:
      "How long a scrape waits for each worker's metrics; a late worker's numbers come from its last answer " +
      'and it is counted in ingest_metrics_workers_missing.',
    format: intRange(10, 60000),
    default: 2000,
    env: 'METRICS_SCRAPE_TIMEOUT_MS',
  }),
  shutdownTimeoutMs: setting({
    doc: 'Deadline for a graceful shutdown (flush and publish everything) on SIGTERM.',
    format: intRange(100, 3600000),
    default: 30000,
    env: 'SHUTDOWN_TIMEOUT_MS',
  }),

  pubsubAdapter: setting({
    doc: 'Backend: redis_streams, kafka or in_memory (default redis_streams when NODE_ENV=production, else in_memory).',
    format: oneOf(ADAPTER_NAMES),
    default: 'in_memory',
    env: 'PUBSUB_ADAPTER',
  }),
  backendConnectTimeoutMs: setting({
    doc: 'How long a worker waits for the backend at start before it reports a start-up failure.',
    format: intRange(100, 600000),
    default: 10000,
    env: 'BACKEND_CONNECT_TIMEOUT_MS',
  }),
  backendUnhealthyAfterMs: setting({
    doc: 'Health turns unhealthy (503) once the backend has been unreachable this long (degraded before).',
    format: intRange(100, 3600000),
    default: 30000,
    env: 'BACKEND_UNHEALTHY_AFTER_MS',
  }),
  redisUrl: setting({
    doc:
      'Redis URL (redis:// or rediss://); required for redis_streams unless REDIS_CLUSTER_NODES or ' +
      'REDIS_SENTINELS is set. With those it names no node: only its scheme (rediss: turns TLS on), user ' +
      'name and password are used, for every node.',
    format: redisUrl,
    default: '',
    env: 'REDIS_URL',
    sensitive: true,
  }),
  redisClusterNodes: setting({
    doc:
      'Redis Cluster seed nodes, comma-separated host:port: selects the cluster client (docs/redis.md). TLS and ' +
      'password come from REDIS_URL. Exclusive with REDIS_SENTINELS.',
    format: hostPortList,
    default: [],
    env: 'REDIS_CLUSTER_NODES',
  }),
  redisClusterAllowUntaggedKey: setting({
    doc:
      'Allow, with REDIS_CLUSTER_NODES, a REDIS_STREAM_KEY whose first {…} is not a placeholder: every record ' +
      'then goes to one shard.',
    format: bool,
    default: false,
    env: 'REDIS_CLUSTER_ALLOW_UNTAGGED_KEY',
  }),
  redisSentinels: setting({
    doc:
      'Redis Sentinel addresses, comma-separated host:port: the master is the one they name ' +
      'REDIS_SENTINEL_NAME, followed across failovers. Exclusive with REDIS_CLUSTER_NODES.',
    format: hostPortList,
    default: [],
    env: 'REDIS_SENTINELS',
  }),
  redisSentinelName: setting({
    doc: 'The master group name the sentinels monitor (required with REDIS_SENTINELS).',
    format: str,
    default: '',
    env: 'REDIS_SENTINEL_NAME',
  }),
  redisSentinelPassword: setting({
    doc: "The sentinels' own password (their requirepass), when they have one.",
    format: str,
    default: '',
    env: 'REDIS_SENTINEL_PASSWORD',
    sensitive: true,
  }),
  redisWaitReplicas: setting({
    doc:
      'Replicas that must hold a record before it counts as stored (`committed`): WAIT after each write on the ' +
      'master that took it. Fewer within REDIS_WAIT_TIMEOUT_MS fail the publish as retryable. 0: replication ' +
      'is asynchronous (docs/redis.md).',
    format: intRange(0, 100),
    default: 0,
    env: 'REDIS_WAIT_REPLICAS',
  }),
  redisWaitTimeoutMs: setting({
    doc: 'How long WAIT (REDIS_WAIT_REPLICAS) waits for the replicas.',
    format: intRange(10, 5000),
    default: 1000,
    env: 'REDIS_WAIT_TIMEOUT_MS',
  }),
  redisStreamKey: setting({
    doc:
      "Stream key for XADD; `{tenant_id}` and `{interaction_id}` are replaced by the record's ids (with " +
      'REDIS_CLUSTER_NODES keeping their braces: the hash tag).',
    format: str,
    default: 'ingest:audio',
    env: 'REDIS_STREAM_KEY',
  }),
  redisStreamMaxlen: setting({
    doc: 'Approximate cap (XADD MAXLEN ~) on the stream length; 0 keeps everything.',
    format: intRange(0, Number.MAX_SAFE_INTEGER),
    default: 0,
    env: 'REDIS_STREAM_MAXLEN',
  }),
  redisDeduplicate: setting({
    doc:
      'Store each audio frame at most once per interaction (native) or stream (telephony): a server-side ' +
      'script appends only the frames beyond the last seq stored. false: a plain XADD per record (a retry ' +
      'or a resumed stream can store frames twice).',
    format: bool,
    default: true,
    env: 'REDIS_DEDUPLICATE',
  }),
  redisDedupTtlSeconds: setting({
    doc:
      'Expiry of the key holding the last stored seq of an interaction (REDIS_DEDUPLICATE), renewed by each ' +
      'append; a stream resumed after it can store frames again.',
    format: intRange(1, 31_536_000),
    default: 86400,
    env: 'REDIS_DEDUP_TTL_SECONDS',
  }),
  kafkaBrokers: setting({
    doc: 'Kafka brokers, comma-separated host:port; required for kafka.',
    format: hostPortList,
    default: [],
    env: 'KAFKA_BROKERS',
  }),
  kafkaTopic: setting({ doc: 'Kafka topic for records.', format: str, default: 'ingest.audio', env: 'KAFKA_TOPIC' }),
  kafkaClientId: setting({
    doc: 'Kafka client id (shows in broker logs and quotas).',
    format: str,
    default: 'ingest',
    env: 'KAFKA_CLIENT_ID',
  }),
  kafkaSsl: setting({ doc: 'Connect to the brokers over TLS.', format: bool, default: false, env: 'KAFKA_SSL' }),
  kafkaSslCaFile: setting({
    doc: "PEM file of the CA that signed the brokers' certificates (with KAFKA_SSL=true; default: the system CAs).",
    format: str,
    default: '',
    env: 'KAFKA_SSL_CA_FILE',
  }),
  kafkaSaslMechanism: setting({
    doc: 'SASL mechanism: plain, scram-sha-256 or scram-sha-512 (empty: no SASL).',
    format: oneOf(['', 'plain', 'scram-sha-256', 'scram-sha-512']),
    default: '',
    env: 'KAFKA_SASL_MECHANISM',
  }),
  kafkaSaslUsername: setting({
    doc: 'SASL user name (required with KAFKA_SASL_MECHANISM).',
    format: str,
    default: '',
    env: 'KAFKA_SASL_USERNAME',
  }),
  kafkaSaslPassword: setting({
    doc: 'SASL password (required with KAFKA_SASL_MECHANISM).',
    format: str,
    default: '',
    env: 'KAFKA_SASL_PASSWORD',
    sensitive: true,
  }),
  kafkaCompression: setting({
    doc: 'Compression of produced batches: none or gzip.',
    format: oneOf(['none', 'gzip']),
    default: 'none',
    env: 'KAFKA_COMPRESSION',
  }),
  kafkaCreateTopic: setting({
    doc:
      'Create KAFKA_TOPIC at start when missing (with KAFKA_TOPIC_PARTITIONS and KAFKA_TOPIC_REPLICATION); ' +
      'otherwise a missing topic fails start-up.',
    format: bool,
    default: false,
    env: 'KAFKA_CREATE_TOPIC',
  }),
  kafkaTopicPartitions: setting({
    doc: 'Partitions of a topic created by KAFKA_CREATE_TOPIC.',
    format: intRange(1, 10000),
    default: 6,
    env: 'KAFKA_TOPIC_PARTITIONS',
  }),
  kafkaTopicReplication: setting({
    doc: "Replication factor of a topic created by KAFKA_CREATE_TOPIC (-1: the broker's default.replication.factor).",
    format: intRange(-1, 100),
    default: -1,
    env: 'KAFKA_TOPIC_REPLICATION',
  }),

  jwtPublicKey: setting({
    doc:
      'One or more PEM public keys (concatenated) that verify stream tokens. Each is known by its RFC 7638 JWK ' +
      'thumbprint: a token whose `kid` is one is checked against that key only.',
    format: str,
    default: '',
    env: 'JWT_PUBLIC_KEY',
    sensitive: true,
  }),
  jwtPublicKeyFile: setting({
    doc: 'File holding one or more PEM public keys (instead of JWT_PUBLIC_KEY).',
    format: str,
    default: '',
    env: 'JWT_PUBLIC_KEY_FILE',
  }),
  jwtJwksUrl: setting({
    doc:
      'URL of a JSON Web Key Set (https; http only to a loopback address): tokens naming a key (`kid`) are ' +
      'verified with that key. Alone or with PEM keys; satisfies the production key requirement.',
    format: jwksUrl,
    default: '',
    env: 'JWT_JWKS_URL',
  }),
  jwtJwksRefreshMs: setting({
    doc: 'How often each worker fetches the key set again in the background (and so drops removed keys).',
    format: intRange(100, 86400000),
    default: 300000,
    env: 'JWT_JWKS_REFRESH_MS',
  }),
  jwtJwksCooldownMs: setting({
    doc:
      'Least time between two fetches of the key set: a token naming an unknown key triggers a fetch at most ' +
      'this often, and a failed fetch is retried after it.',
    format: intRange(100, 3600000),
    default: 30000,
    env: 'JWT_JWKS_COOLDOWN_MS',
  }),
  jwtJwksTimeoutMs: setting({
    doc: 'Deadline of one key-set fetch (connect, answer and body).',
    format: intRange(100, 60000),
    default: 5000,
    env: 'JWT_JWKS_TIMEOUT_MS',
  }),
  jwtJwksCacheMaxAgeMs: setting({
    doc:
      'Health turns degraded once the cached key set is this old (no successful fetch for that long); the ' +
      'cached keys keep verifying tokens meanwhile.',
    format: intRange(1000, 604800000),
    default: 3600000,
    env: 'JWT_JWKS_CACHE_MAX_AGE_MS',
  }),
  jwtAlgorithms: setting({
    doc: 'Accepted JWT algorithms (asymmetric only).',
    format: list<AsymmetricAlgorithm>(checkAlgorithm, {
      name: `comma-separated list of ${ASYMMETRIC_ALGORITHMS.join(', ')}`,
      nonEmpty: true,
    }),
    default: DEFAULT_JWT_ALGORITHMS,
    env: 'JWT_ALGORITHMS',
  }),
  jwtIssuer: setting({ doc: 'Required `iss` claim, when set.', format: str, default: '', env: 'JWT_ISSUER' }),
  jwtAudience: setting({ doc: 'Required `aud` claim, when set.', format: str, default: '', env: 'JWT_AUDIENCE' }),
  jwtTenantClaim: setting({
    doc: 'Token claim that names the tenant.',
    format: str,
    default: 'tenant_id',
    env: 'JWT_TENANT_CLAIM',
  }),
  jwtClockToleranceS: setting({
    doc: 'Clock tolerance for exp/nbf/iat, in seconds.',
    format: intRange(0, 3600),
    default: 30,
    env: 'JWT_CLOCK_TOLERANCE_S',
  }),
  allowedTenants: setting({
    doc: 'Tenants allowed to stream (comma-separated); empty allows every tenant. Others get 403.',
    format: list(),
    default: [],
    env: 'ALLOWED_TENANTS',
  }),

  maxConnectionsPerWorker: setting({
    doc: 'Open streams per worker before upgrades get 429 (0: no limit).',
    format: intRange(0, 10000000),
    default: 10000,
    env: 'MAX_CONNECTIONS_PER_WORKER',
  }),
  maxConnectionsPerTenant: setting({
    doc: 'Open streams per tenant per worker before upgrades get 429 (0: no limit).',
    format: intRange(0, 10000000),
    default: 0,
    env: 'MAX_CONNECTIONS_PER_TENANT',
  }),
  maxConnectionsPerIp: setting({
    doc: 'Open streams per source address per worker before upgrades get 429 (0: no limit).',
    format: intRange(0, 10000000),
    default: 0,
    env: 'MAX_CONNECTIONS_PER_IP',
  }),
  maxStreamsPerTenant: setting({
    doc:
      'Open streams per tenant across every worker of every instance before upgrades get 429 ' +
      "(tenant_stream_limit; 0: no limit). Counted through leases in Redis (the adapter's REDIS_URL with " +
      'redis_streams, else LIMITS_REDIS_URL), or per instance through the primary when neither applies.',
    format: intRange(0, 10000000),
    default: 0,
    env: 'MAX_STREAMS_PER_TENANT',
  }),
  tenantLeaseTtlMs: setting({
    doc:
      "Lease period of a stream's slot under MAX_STREAMS_PER_TENANT: renewed every third of it while the " +
      "stream lives, so a killed instance's slots free themselves within it.",
    format: intRange(300, 3600000),
    default: 15000,
    env: 'TENANT_LEASE_TTL_MS',
  }),
  limitsRedisUrl: setting({
    doc:
      'Redis for the MAX_STREAMS_PER_TENANT leases when PUBSUB_ADAPTER is kafka or in_memory (ignored with ' +
      'redis_streams, whose REDIS_URL holds them). Empty: the limit holds per instance, counted by the primary.',
    format: redisUrl,
    default: '',
    env: 'LIMITS_REDIS_URL',
    sensitive: true,
  }),
  tenantLeaseKeyPrefix: setting({
    doc:
      'Prefix of the lease keys: one sorted set per tenant, `<prefix>{<tenant>}` (the tenant is the Redis ' +
      'Cluster hash tag). Instances that share a limit share the prefix.',
    format: str,
    default: 'ingest:stream_leases:',
    env: 'TENANT_LEASE_KEY_PREFIX',
  }),
  trustedProxies: setting({
    doc:
      'Proxies (IPs or CIDR ranges) whose X-Forwarded-For is believed; also tells the service TLS ends in ' +
      'front of it.',
    format: list(checkCidr, { name: 'comma-separated list of IP addresses or CIDR ranges' }),
    default: [],
    env: 'TRUSTED_PROXIES',
  }),

  supportExotel: setting({
    doc:
      'Accept Exotel streams (Stream and Voicebot applets) on /v1/ingest (Basic or no Authorization) and ' +
      '/v1/exotel; see docs/telephony.md.',
    format: bool,
    default: false,
    env: 'SUPPORT_EXOTEL',
  }),
  exotelBasicAuth: setting({
    doc:
      "Exotel Basic credentials, comma-separated `user:password=tenant` (the user's streams belong to that " +
      'tenant). Passwords may not contain commas.',
    format: list(checkCredentialEntry, { name: 'comma-separated list of user:password=tenant' }),
    default: [],
    env: 'EXOTEL_BASIC_AUTH',
    sensitive: true,
  }),
  exotelAllowedCidrs: setting({
    doc:
      'Source addresses (IPs or CIDR ranges) accepted as Exotel without credentials; the address is read ' +
      'from X-Forwarded-For only behind TRUSTED_PROXIES.',
    format: list(checkCidr, { name: 'comma-separated list of IPv4/IPv6 addresses or CIDR ranges' }),
    default: [],
    env: 'EXOTEL_ALLOWED_CIDRS',
  }),
  exotelAccountTenants: setting({
    doc:
      'Tenant of an Exotel stream by the account_sid in its start message, comma-separated ' +
      '`account_sid=tenant` (used when the Basic user names no tenant).',
    format: list(checkTenantEntry, { name: 'comma-separated list of account_sid=tenant' }),
    default: [],
    env: 'EXOTEL_ACCOUNT_TENANTS',
  }),
  exotelDefaultTenant: setting({
    doc:
      'Tenant of an Exotel stream that neither its Basic user nor EXOTEL_ACCOUNT_TENANTS maps (empty: such ' +
      'streams are closed with 1008).',
    format: str,
    default: '',
    env: 'EXOTEL_DEFAULT_TENANT',
  }),
  exotelAllowUnauthenticated: setting({
    doc:
      'Accept Exotel connections that prove nothing (no credentials, address outside EXOTEL_ALLOWED_CIDRS). ' +
      'Logged as a warning at every start; never in production.',
    format: bool,
    default: false,
    env: 'EXOTEL_ALLOW_UNAUTHENTICATED',
  }),
  twilioAuthToken: setting({
    doc:
      'Twilio auth token: checks the X-Twilio-Signature of /v1/twilio upgrades. With TWILIO_PUBLIC_URL it ' +
      'enables Twilio Media Streams.',
    format: str,
    default: '',
    env: 'TWILIO_AUTH_TOKEN',
    sensitive: true,
  }),
  twilioPublicUrl: setting({
    doc:
      'The wss:// URL Twilio is given in TwiML `<Stream url="…">` (path included, exactly as written ' +
      'there): the signature covers it.',
    format: twilioPublicUrl,
    default: '',
    env: 'TWILIO_PUBLIC_URL',
  }),
  twilioAccountTenants: setting({
    doc:
      'Tenant of a Twilio stream by the accountSid in its start message, comma-separated ' +
      '`account_sid=tenant`; other accounts are closed with 1008.',
    format: list(checkTenantEntry, { name: 'comma-separated list of AccountSid=tenant' }),
    default: [],
    env: 'TWILIO_ACCOUNT_TENANTS',
  }),
  sslKeyPath: setting({
    doc: 'TLS private key (PEM); with SSL_CERT_PATH the server speaks HTTPS/WSS.',
    format: str,
    default: '',
    env: 'SSL_KEY_PATH',
  }),
  sslCertPath: setting({
    doc: 'TLS certificate chain (PEM); with SSL_KEY_PATH.',
    format: str,
    default: '',
    env: 'SSL_CERT_PATH',
  }),
};

type ValueOf<S> = S extends Setting<infer T> ? T : never;

/** The validated configuration: each key's type is the type its format accepts. */
export type Config = { -readonly [K in keyof typeof schema]: ValueOf<(typeof schema)[K]> };

/** Keys whose values are secrets, read from the schema's `sensitive` flags. */
export const SENSITIVE_KEYS: ReadonlyArray<keyof Config> = (Object.keys(schema) as Array<keyof Config>).filter(
  (key) => schema[key].sensitive === true,
);
