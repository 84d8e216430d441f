/**
 * The base of the publishers that hold a connection to a remote backend
 * (redis_streams, kafka). It keeps the lifecycle the Publisher contract states
 * in one place, so the adapters cannot drift apart on it: start() connects once,
 * publish() makes the contract's refusals before the adapter sees a record,
 * close() runs the adapter's shutdown once and then marks health closed.
 * An adapter supplies connect(), deliver() and shutdown(), and feeds
 * healthTracker the facts it observes on its connection.
 */
import { BackendHealth, type BackendHealthSnapshot } from './backend-health';
import { publishRefusal, startAfterClose, type AdapterName, type Publisher } from './publisher';
import type { IngestRecord } from './records';

/** The part of a pino logger that health logging needs. */
type LogSink = Parameters<BackendHealth['logChanges']>[0];

export abstract class ConnectedPublisher implements Publisher {
  abstract readonly adapter: AdapterName;

  protected readonly healthTracker = new BackendHealth();
  private starting: Promise<void> | undefined;
  private closeRequested = false;
  private closing: Promise<void> | undefined;

  start(): Promise<void> {
    if (this.closeRequested) return Promise.reject(startAfterClose());
    this.starting ??= this.connect();
    return this.starting;
  }

  publish(record: IngestRecord): Promise<void> {
    const refusal = publishRefusal(record, this.closeRequested, this.starting !== undefined);
    if (refusal) return Promise.reject(refusal);
    return this.deliver(record);
  }

  health(): BackendHealthSnapshot {
    return this.healthTracker.current();
  }

  onHealthChange(listener: (health: BackendHealthSnapshot) => void): () => void {
    return this.healthTracker.onChange(listener);
  }

  close(): Promise<void> {
    this.closeRequested = true;
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  /**
   * True from the first close() on. Connection events seen after it are the
   * adapter's own disconnect, not an outage: adapters check this before
   * reporting the backend down.
   */
  protected get closed(): boolean {
    return this.closeRequested;
  }

  /** Logs each health change of this adapter's connection to `target` (host:port or broker list). */
  protected logHealthChanges(logger: LogSink, what: string, target: string): void {
    this.healthTracker.logChanges(logger, what, { backend: this.adapter, target });
  }

  /**
   * Connects; resolves once the backend can take publishes. Rejects with
   * IngestError('backend_unavailable') when it cannot be reached in time.
   * Runs at most once per publisher.
   */
  protected abstract connect(): Promise<void>;

  /**
   * Publishes a record that passed the contract's refusals; settles only once
   * the backend has confirmed or refused it. Runs on every publish: it must
   * not allocate more than the publish itself needs.
   */
  protected abstract deliver(record: IngestRecord): Promise<void>;

  /**
   * Waits for deliveries in flight, then disconnects; a start() still under
   * way is ended where the client library allows it. Runs at most once per
   * publisher and never rejects: close() must always complete.
   */
  protected abstract shutdown(): Promise<void>;

  private async closeOnce(): Promise<void> {
    await this.shutdown();
    this.healthTracker.markClosed();
  }
}
