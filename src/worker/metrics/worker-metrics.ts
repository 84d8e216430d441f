/**
 * A worker's Prometheus registry. The hot path never touches prom-client: it
 * bumps plain counters in WorkerStats, and each metric's collect() copies them
 * in at scrape time. Every metric says how the primary aggregates it across
 * workers (`aggregator`): counters and histograms sum, gauges of current
 * state sum too (connections, streams, backlog bytes).
 * Labels are bounded: result and reason codes, close codes, adapter and
 * record type; never a tenant, connection or interaction id.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectLintCleanDefaultMetrics } from '../../shared/process/process-metrics';
import { LEASE_OPS, LOSS_REASONS, type ScrapeSamples, type WorkerStats } from './worker-stats';

/** The close codes ops/prometheus/ingest-alerts.yml alerts on (the backend refused, or could not keep up). */
export const ALERTED_CLOSE_CODES = ['1011', '1013'] as const;
export const PUBLISH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/**
 * Commit latency is the buffer's wait plus publishing: fine steps just above the default BUFFER_DURATION_MS
 * (3 s; 3.05 is the benchmark's target), coarse ones elsewhere (records cut short by stop or MAX_CHUNK_BYTES,
 * other buffer settings, a slow backend).
 */
export const COMMIT_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 3, 3.025, 3.05, 3.1, 3.25, 3.5, 4, 5, 7.5, 10, 15, 30, 60];

export interface WorkerMetricsSources {
  readonly stats: WorkerStats;
  /** Unpublished bytes across this worker's streams, live and closed (an O(1) read). */
  readonly backlogBytes: () => number;
  /** MAX_WORKER_BACKLOG_BYTES and the streams waiting on it or on an older session of their interaction. */
  readonly backlog?: {
    readonly limitBytes: number;
    readonly waitingStreams: number;
    readonly heldStreams: number;
  };
  /** The key set of JWT_JWKS_URL, when one is configured. */
  readonly keySet?: { ageMs(): number; readonly size: number };
}

/** Sets a counter to a running total kept elsewhere (prom-client counters only go up by inc). */
function setTotal(counter: Counter<string>, value: number, labels?: Record<string, string>): void {
  if (labels) counter.inc(labels, value);
  else counter.inc(value);
}

/**
 * Copies a map of totals into a counter's series. `seeded` keys are exposed at 0 until they
 * count: a series that first appears at its value is one increase() never sees, and the
 * alerts on data lost and on 1011/1013 closes (ops/prometheus) must see the first one.
 */
function copyMap(
  counter: Counter<string>,
  map: Map<string, number>,
  labelNames: string[],
  seeded: readonly string[] = [],
): void {
  counter.reset();
  for (const key of seeded) if (!map.has(key)) setTotal(counter, 0, labelsOf(key, labelNames));
  for (const [key, value] of map) setTotal(counter, value, labelsOf(key, labelNames));
}

function labelsOf(key: string, labelNames: string[]): Record<string, string> {
  const parts = key.split('|');
  const labels: Record<string, string> = {};
  labelNames.forEach((name, i) => (labels[name] = parts[i] ?? ''));
  return labels;
}

export function createWorkerMetrics(sources: WorkerMetricsSources): Registry {
  const registry = new Registry();
  const { stats } = sources;
  const registers = [registry];

  const plainCounter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      aggregator: 'sum',
      collect() {
        this.reset();
        setTotal(this, read());
      },
    });
  };
  const mapCounter = (
    name: string,
    help: string,
    labelNames: string[],
    map: Map<string, number>,
    seeded: readonly string[] = [],
  ): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers,
      aggregator: 'sum',
      collect() {
        copyMap(this, map, labelNames, seeded);
      },
    });
  };
  /** A histogram fed at each scrape with what was observed since the last one. */
  const drainedHistogram = (name: string, help: string, buckets: number[], samples: ScrapeSamples): void => {
    new Histogram({
      name,
      help,
      buckets,
      registers,
      aggregator: 'sum',
      collect() {
        for (const value of samples.take()) this.observe(value);
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number, aggregator: 'sum' | 'max' = 'sum'): void => {
    new Gauge({
      name,
      help,
      registers,
      aggregator,
      collect() {
        this.set(read());
      },
    });
  };

  gauge('ingest_connections_active', 'Open WebSocket connections.', () => stats.connectionsActive);
  gauge('ingest_streams_active', 'Started streams not yet ended.', () => stats.streamsActive);
  gauge(
    'ingest_backlog_bytes',
    'Bytes received but not yet confirmed by the backend, live and closed streams alike.',
    sources.backlogBytes,
  );
  const { backlog } = sources;
  if (backlog) addBacklogGauges(gauge, backlog);
  gauge(
    'ingest_closed_streams_publishing',
    'Streams whose socket has closed while their backlog is still being published (CLOSED_STREAM_RETENTION_MS).',
    () => stats.streamsRetained,
  );
  mapCounter(
    'ingest_lost_bytes_total',
    'Unpublished bytes given up, by reason: retention_expired (CLOSED_STREAM_RETENTION_MS), shutdown_deadline.',
    ['reason'],
    stats.lostBytes,
    LOSS_REASONS,
  );
  mapCounter(
    'ingest_lost_frames_total',
    'Audio frames given up unpublished, by reason: retention_expired, shutdown_deadline.',
    ['reason'],
    stats.lostFrames,
    LOSS_REASONS,
  );
  mapCounter(
    'ingest_connections_total',
    'Upgrade requests by result: accepted, or the refusal code.',
    ['result'],
    stats.connections,
  );
  mapCounter(
    'ingest_auth_failures_total',
    'Upgrade requests refused by authentication or authorisation, by reason.',
    ['reason'],
    stats.authFailures,
  );
  mapCounter(
    'ingest_stream_closes_total',
    'Closed connections by WebSocket close code.',
    ['code'],
    stats.streamCloses,
    ALERTED_CLOSE_CODES,
  );
  mapCounter(
    'ingest_records_published_total',
    'Records confirmed by the backend.',
    ['adapter', 'type'],
    stats.recordsPublished,
  );
  mapCounter(
    'ingest_publish_errors_total',
    'Failed publish attempts: transient (retried), rejected (for good), invalid_record (bug, dropped).',
    ['adapter', 'reason'],
    stats.publishErrors,
  );
  mapCounter(
    'ingest_sequence_gaps_total',
    "Jumps forward in a telephony source's sequence numbers (missing frames are never waited for).",
    ['source'],
    stats.sequenceGaps,
  );
  mapCounter(
    'ingest_invalid_payloads_total',
    'Telephony media payloads skipped because they are not canonical base64 of whole samples.',
    ['source'],
    stats.invalidPayloads,
  );
  mapCounter(
    'ingest_telephony_messages_ignored_total',
    'Telephony messages skipped without effect: invalid_json, ' +
      'unknown_event, before_start, unknown_track, invalid_field.',
    ['source', 'reason'],
    stats.telephonyIgnored,
  );
  mapCounter(
    'ingest_telephony_start_trimmed_total',
    'Telephony starts cut to their limits, by what was cut: tracks (not inbound/outbound, or repeated), ' +
      'text_field (over 256 characters), custom_parameters (metadata over 4 KiB).',
    ['source', 'what'],
    stats.telephonyStartTrimmed,
  );
  mapCounter(
    'ingest_telephony_connections_total',
    'Accepted telephony connections, by source (exotel, twilio).',
    ['source'],
    stats.telephonyConnections,
  );
  mapCounter(
    'ingest_jwks_fetches_total',
    'Fetches of the key set at JWT_JWKS_URL by result: ok, timeout, http_error, network_error, invalid.',
    ['result'],
    stats.jwks.fetches,
  );
  mapCounter(
    'ingest_jwks_keys_ignored_total',
    'Keys of a fetched key set left out, by reason: hmac_or_none, not_signing, no_kid, algorithm, unsupported.',
    ['reason'],
    stats.jwks.keysIgnored,
  );
  mapCounter(
    'ingest_jwks_unknown_kids_total',
    'Tokens naming a kid the key-set cache lacked, by outcome: found (after a fetch), not_found, ' +
      'cooldown (refused without a fetch), unavailable (the key set could not be fetched).',
    ['outcome'],
    stats.jwks.unknownKids,
  );
  gauge('ingest_jwks_waiting_upgrades', 'Upgrades waiting for a key-set fetch.', () => stats.jwks.waiting);
  const { keySet } = sources;
  if (keySet) {
    gauge(
      'ingest_jwks_key_set_age_seconds',
      'Seconds since the last successful key-set fetch (the oldest worker); /health is degraded past ' +
        'JWT_JWKS_CACHE_MAX_AGE_MS.',
      () => keySet.ageMs() / 1000,
      'max',
    );
    gauge(
      'ingest_jwks_keys',
      'Usable keys in the cached key set (the largest worker count).',
      () => keySet.size,
      'max',
    );
  }
  addTenantLeaseMetrics(gauge, mapCounter, plainCounter, stats);
  plainCounter(
    'ingest_duplicate_frames_total',
    'Telephony frames dropped because their sequence number was already received.',
    () => stats.duplicateFrames,
  );
  plainCounter(
    'ingest_send_buffer_overflows_total',
    'Streams closed with 1008 (send_buffer_full) because their client left MAX_SEND_BUFFER_BYTES of replies unread.',
    () => stats.sendBufferOverflows,
  );
  plainCounter(
    'ingest_pongs_ignored_total',
    "Pongs that answer none of the server's pings (unsolicited or stale); they do not count as liveness.",
    () => stats.pongsIgnored,
  );
  plainCounter('ingest_frames_received_total', 'Audio frames received.', () => stats.framesReceived);
  plainCounter('ingest_bytes_received_total', 'Audio bytes received.', () => stats.bytesReceived);
  plainCounter('ingest_acks_sent_total', 'ack messages sent.', () => stats.acksSent);
  plainCounter(
    'ingest_records_invalid_total',
    'Records refused before publishing because they lack tenant_id or interaction_id (a bug).',
    () => stats.recordsInvalid,
  );
  plainCounter(
    'ingest_unhandled_rejections_total',
    'Unhandled promise rejections (each is logged).',
    () => stats.unhandledRejections,
  );
  drainedHistogram(
    'ingest_publish_duration_seconds',
    "Time from publishing a record to the backend's confirmation.",
    PUBLISH_BUCKETS,
    stats.publishDurations,
  );
  drainedHistogram(
    'ingest_commit_latency_seconds',
    "Time from an audio record's oldest frame arriving to the backend's confirmation (what committed reports).",
    COMMIT_BUCKETS,
    stats.commitLatencies,
  );
  collectLintCleanDefaultMetrics(registry);
  return registry;
}

type GaugeMaker = (name: string, help: string, read: () => number) => void;
type MapCounterMaker = (
  name: string,
  help: string,
  labelNames: string[],
  map: Map<string, number>,
  seeded?: readonly string[],
) => void;

function addTenantLeaseMetrics(
  gauge: GaugeMaker,
  mapCounter: MapCounterMaker,
  plainCounter: GaugeMaker,
  stats: WorkerStats,
): void {
  gauge(
    'ingest_tenant_leases_held',
    'MAX_STREAMS_PER_TENANT leases the workers hold (one per admitted stream while the limit is on).',
    () => stats.tenantLeases.held,
  );
  mapCounter(
    'ingest_tenant_lease_errors_total',
    'Calls to the tenant lease store (Redis, or the primary) that failed or timed out, by op: acquire (the ' +
      'stream was admitted anyway: fail open), renew, release.',
    ['op'],
    stats.tenantLeases.errors,
    LEASE_OPS,
  );
  plainCounter(
    'ingest_tenant_leases_readded_total',
    'Leases a renewal found missing in Redis (expired during an outage longer than TENANT_LEASE_TTL_MS, or ' +
      'admitted while the store was down) and added again.',
    () => stats.tenantLeases.readded,
  );
}

function addBacklogGauges(gauge: GaugeMaker, backlog: NonNullable<WorkerMetricsSources['backlog']>): void {
  gauge(
    'ingest_backlog_limit_bytes',
    'MAX_WORKER_BACKLOG_BYTES of each worker, summed: the cluster-wide total of the limits.',
    () => backlog.limitBytes,
  );
  gauge(
    'ingest_backlog_paused_streams',
    'Live streams whose reading is paused because their worker reached MAX_WORKER_BACKLOG_BYTES.',
    () => backlog.waitingStreams,
  );
  gauge(
    'ingest_streams_held',
    'Streams whose records wait for an earlier session of the same interaction to publish or give up.',
    () => backlog.heldStreams,
  );
}
