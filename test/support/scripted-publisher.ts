/**
 * A publisher the unit tests of the stream engine script: every publish waits
 * for the test to settle it, until confirmAll() makes the backend confirm on
 * its own. The engine has one publish in flight per stream, so call n is the
 * n-th attempt (a retried record is a new call).
 */
import { BackendHealth } from '../../src/shared/publishing/backend-health';
import type { Publisher } from '../../src/shared/publishing/publisher';
import type { IngestRecord } from '../../src/shared/publishing/records';

export class ScriptedPublisher implements Publisher {
  readonly adapter = 'in_memory' as const;
  readonly calls: Array<{ record: IngestRecord; resolve: () => void; reject: (err: unknown) => void }> = [];
  private readonly healthTracker = new BackendHealth();
  private waiters: Array<() => void> = [];
  private confirming = false;
  start = async (): Promise<void> => undefined;
  close = async (): Promise<void> => undefined;
  health = () => this.healthTracker.current();
  onHealthChange = (l: Parameters<Publisher['onHealthChange']>[0]) => this.healthTracker.onChange(l);
  publish(record: IngestRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.calls.push({ record, resolve, reject });
      if (this.confirming) resolve();
      for (const w of this.waiters.splice(0)) w();
    });
  }
  /** Resolves when the n-th publish call (1-based) has been made. */
  nthCall(n: number): Promise<(typeof this.calls)[number]> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.calls.length >= n) resolve(this.calls[n - 1]);
        else this.waiters.push(check);
      };
      check();
    });
  }
  /** Confirms the publish waiting now, and every later one as it is made. */
  confirmAll(): void {
    this.confirming = true;
    for (const call of this.calls) call.resolve();
  }
  /** The records sent, in order (a retried record appears once per attempt). */
  records(): IngestRecord[] {
    return this.calls.map((c) => c.record);
  }
}
