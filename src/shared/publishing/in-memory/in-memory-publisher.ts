/**
 * The in_memory adapter (protocol.md section 3): the same records as the real
 * backends, kept in this process for development and tests. Bounded: only the
 * last `maxRecords` records are kept, older ones are dropped and counted.
 *
 * It behaves like a backend in everything the caller can observe: publish always
 * settles asynchronously, validates records, fails while an outage is simulated
 * (setFailing), and stores a copy of the payload so a caller that reuses its
 * buffers after the publish resolved cannot change what was "published".
 */
import { BackendHealth, type BackendHealthSnapshot } from '../backend-health';
import { PublishError } from '../../errors';
import { publishRefusal, startAfterClose, type AdapterName, type Publisher } from '../publisher';
import type { IngestRecord } from '../records';

export interface InMemoryPublisherOptions {
  /** How many records to keep (the most recent ones). Default 100000. */
  maxRecords?: number;
}

export const DEFAULT_MAX_RECORDS = 100_000;

type RecordListener = (record: IngestRecord) => void;

export class InMemoryPublisher implements Publisher {
  readonly adapter: AdapterName = 'in_memory';

  private readonly maxRecords: number;
  private readonly healthTracker = new BackendHealth();
  private readonly recordListeners = new Set<RecordListener>();
  /** Kept records are buffer[head..]; compacted when the dead prefix gets large. */
  private buffer: IngestRecord[] = [];
  private head = 0;
  private droppedCount = 0;
  private failing = false;
  private started = false;
  private closing: Promise<void> | undefined;

  constructor(options: InMemoryPublisherOptions = {}) {
    const max = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxRecords must be a positive integer (got ${max})`);
    this.maxRecords = max;
  }

  async start(): Promise<void> {
    if (this.closing) throw startAfterClose();
    this.started = true;
    if (this.failing) {
      this.healthTracker.markUp();
      this.healthTracker.markFailing('simulated outage');
      return;
    }
    this.healthTracker.markUp();
  }

  // async: every outcome, including a refused record, is a rejection and never a synchronous throw.
  async publish(record: IngestRecord): Promise<void> {
    // The real backends' refusals, "not connected" included: catches a caller that forgot start().
    const refusal = publishRefusal(record, this.closing !== undefined, this.started);
    if (refusal) throw refusal;
    if (this.failing) {
      this.healthTracker.markFailing('simulated outage');
      throw new PublishError('in_memory backend is failing (simulated outage)', true);
    }
    const stored = copyRecord(record);
    this.append(stored);
    this.healthTracker.markUp();
    for (const listener of this.recordListeners) listener(stored);
  }

  health(): BackendHealthSnapshot {
    return this.healthTracker.current();
  }

  onHealthChange(listener: (health: BackendHealthSnapshot) => void): () => void {
    return this.healthTracker.onChange(listener);
  }

  close(): Promise<void> {
    // Publishing is synchronous inside, so nothing is in flight once we get here.
    this.closing ??= Promise.resolve().then(() => this.healthTracker.markClosed());
    return this.closing;
  }

  /** The kept records, oldest first (a copy: later publishes do not change it). */
  records(): readonly IngestRecord[] {
    return this.buffer.slice(this.head);
  }

  /** How many records were dropped because more than maxRecords were published. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Called with each record once it is stored (tests wait on this instead of polling). */
  onRecord(listener: RecordListener): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  /**
   * Simulates a backend outage for tests and development: while failing, publish
   * rejects with a retryable PublishError and health is degraded; ending the
   * outage brings health back up.
   */
  setFailing(failing: boolean): void {
    this.failing = failing;
    if (this.closing) return;
    const state = this.healthTracker.current().state;
    if (state === 'connecting') return; // start() has not run: it applies the flag
    if (failing) this.healthTracker.markFailing('simulated outage');
    else this.healthTracker.markUp();
  }

  private append(record: IngestRecord): void {
    this.buffer.push(record);
    if (this.buffer.length - this.head > this.maxRecords) {
      this.head++;
      this.droppedCount++;
    }
    // Amortised O(1): drop the dead prefix once it is as large as what is kept.
    if (this.head >= this.maxRecords) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
  }
}

function copyRecord(record: IngestRecord): IngestRecord {
  if (record.type !== 'audio') return Object.freeze({ ...record });
  return Object.freeze({ ...record, payload: Buffer.from(record.payload) });
}
