/**
 * What the backend did with a stream's records, for operators: every outcome
 * counted in WorkerStats (the publish metrics and the worker's loss report at
 * exit) and logged at the level it deserves. What the stream does about an
 * outcome (a committed reply, a 1011 close) is the session's decision.
 */
import type { Log } from '../../shared/process/bound-log';
import type { IngestError } from '../../shared/errors';
import type { AdapterName } from '../../shared/publishing/publisher';
import type { IngestRecord } from '../../shared/publishing/records';
import type { WorkerStats } from '../metrics/worker-stats';
import type { FailureOutcome } from './stream-publish-queue';

/** The `reason` label of ingest_publish_errors_total for each outcome. */
const ERROR_REASONS: Readonly<Record<FailureOutcome, string>> = {
  dropped: 'invalid_record',
  retry: 'transient',
  stopped: 'rejected',
};

export class PublishOutcomes {
  constructor(
    private readonly stats: WorkerStats,
    private readonly adapter: AdapterName,
  ) {}

  confirmed(record: IngestRecord, durationMs: number): void {
    this.stats.count(this.stats.recordsPublished, `${this.adapter}|${record.type}`);
    this.stats.publishDurations.add(durationMs / 1000);
    // What `committed` tells the client: the buffer's wait plus publishing, from the oldest frame's arrival.
    if (record.type === 'audio') this.stats.commitLatencies.add((Date.now() - Date.parse(record.received_at)) / 1000);
  }

  /** `unpublishedBytes`: the stream's backlog, lost for good when the backend refused a record ('stopped'). */
  failed(error: IngestError, record: IngestRecord, outcome: FailureOutcome, unpublishedBytes: number, log: Log): void {
    const stats = this.stats;
    stats.count(stats.publishErrors, `${this.adapter}|${ERROR_REASONS[outcome]}`);
    switch (outcome) {
      case 'dropped':
        stats.recordsInvalid++;
        log.error({ err: error, record_type: record.type }, 'invalid record dropped (bug): not published');
        return;
      case 'retry':
        log.warn({ err: error.message, record_type: record.type }, 'publish failed: retrying');
        return;
      case 'stopped':
        log.error(
          { err: error, record_type: record.type, unpublished_bytes: unpublishedBytes },
          'backend refused the record for good',
        );
        stats.bytesRejected += unpublishedBytes;
    }
  }
}
