/**
 * Plain counters the hot path bumps (a property increment per frame, no label
 * lookup, no allocation); the metrics registry reads them at scrape time.
 * Labelled counts that happen per connection or per record (not per frame) go
 * through the small `count*` helpers.
 */
/** Why unpublished audio is given up: a closed stream's retention ran out, or the shutdown's deadline did. */
export const LOSS_REASONS = ['retention_expired', 'shutdown_deadline'] as const;
export type LossReason = (typeof LOSS_REASONS)[number];
/** The calls to the tenant lease store (the `op` of ingest_tenant_lease_errors_total). */
export const LEASE_OPS = ['acquire', 'renew', 'release'] as const;
export type LeaseOp = (typeof LEASE_OPS)[number];

export class WorkerStats {
  framesReceived = 0;
  bytesReceived = 0;
  acksSent = 0;
  connectionsActive = 0;
  streamsActive = 0;
  unhandledRejections = 0;
  recordsInvalid = 0;
  /** Bytes the backend refused for good (streams closed with 1011): never published. */
  bytesRejected = 0;
  /** Telephony frames whose sequence number was already seen (dropped). */
  duplicateFrames = 0;
  /** Streams closed because their client left MAX_SEND_BUFFER_BYTES of replies unread. */
  sendBufferOverflows = 0;
  /** Pongs that answer no ping of ours (unsolicited, or for an older ping): they prove nothing. */
  pongsIgnored = 0;
  /** Sessions whose socket has closed while their data is still being published (CLOSED_STREAM_RETENTION_MS). */
  streamsRetained = 0;

  readonly connections = new Map<string, number>();
  readonly authFailures = new Map<string, number>();
  readonly streamCloses = new Map<string, number>();
  readonly recordsPublished = new Map<string, number>();
  readonly publishErrors = new Map<string, number>();
  /** Jumps forward in a source's sequence numbers, by source. */
  readonly sequenceGaps = new Map<string, number>();
  /** Telephony media payloads refused (not canonical base64 of whole samples), by source. */
  readonly invalidPayloads = new Map<string, number>();
  /** Telephony messages skipped without effect, by `source|reason`. */
  readonly telephonyIgnored = new Map<string, number>();
  /** Telephony starts cut to their limits, by `source|what` (tracks, text_field, custom_parameters). */
  readonly telephonyStartTrimmed = new Map<string, number>();
  /** Bytes given up unpublished, by LossReason. */
  readonly lostBytes = new Map<string, number>();
  /** Audio frames given up unpublished, by the same reasons. */
  readonly lostFrames = new Map<string, number>();
  /** Accepted telephony connections, by source. */
  readonly telephonyConnections = new Map<string, number>();
  /** The key set of JWT_JWKS_URL: its fetches, the keys it left out, the unknown kids, the upgrades waiting. */
  readonly jwks = {
    /** By result: ok, timeout, http_error, network_error, invalid. */
    fetches: new Map<string, number>(),
    /** By reason: hmac_or_none, not_signing, no_kid, algorithm, unsupported. */
    keysIgnored: new Map<string, number>(),
    /** Tokens naming a kid the cache lacked, by outcome: found, not_found, cooldown, unavailable. */
    unknownKids: new Map<string, number>(),
    /** Upgrades waiting for a fetch now. */
    waiting: 0,
  };
  /** MAX_STREAMS_PER_TENANT's leases: those this worker holds, the store's failures, the renewals that re-added. */
  readonly tenantLeases = {
    held: 0,
    /** Store calls that failed or timed out, by LEASE_OPS (acquire failures admitted the stream: fail open). */
    errors: new Map<string, number>(),
    /** Leases a renewal found missing in the store and added again (a partition longer than the lease period). */
    readded: 0,
  };
  /** Publish durations in seconds since the last scrape: from publishing a record to its confirmation. */
  readonly publishDurations = new ScrapeSamples();
  /** Commit latencies in seconds since the last scrape: from an audio record's oldest frame to its confirmation. */
  readonly commitLatencies = new ScrapeSamples();

  count(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }
}

/** Observations kept until the next scrape drains them into a histogram. */
export class ScrapeSamples {
  private values: number[] = [];

  add(value: number): void {
    // Bounded: if nobody scrapes, keep a recent sample rather than grow forever.
    if (this.values.length < 100_000) this.values.push(value);
  }

  /** The observations since the last call. */
  take(): number[] {
    const values = this.values;
    this.values = [];
    return values;
  }
}
