/**
 * The lifecycle ConnectedPublisher gives the redis_streams and kafka adapters,
 * on a stand-in adapter whose connect, deliver and shutdown the test settles
 * by hand: the orderings the real backends only show by chance (a publish
 * while connecting, health during a slow shutdown) happen here every time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectedPublisher } from '../../../src/shared/publishing/connected-publisher';
import type { AdapterName } from '../../../src/shared/publishing/publisher';
import type { IngestRecord } from '../../../src/shared/publishing/records';
import { deferred } from '../../support/deferred';
import { isCode, isPublishError } from '../../support/publisher-checks';
import { audioRecord } from '../../support/sample-records';

class StandInPublisher extends ConnectedPublisher {
  readonly adapter: AdapterName = 'redis_streams';
  readonly connected = deferred();
  readonly shutDown = deferred();
  connects = 0;
  shutdowns = 0;
  readonly delivered: IngestRecord[] = [];

  protected connect(): Promise<void> {
    this.connects++;
    return this.connected.promise.then(() => this.healthTracker.markUp());
  }

  protected async deliver(record: IngestRecord): Promise<void> {
    this.delivered.push(record);
  }

  protected shutdown(): Promise<void> {
    this.shutdowns++;
    return this.shutDown.promise;
  }

  logTo(logger: { info(fields: object, message: string): void; warn(fields: object, message: string): void }): void {
    this.logHealthChanges(logger, 'stand-in connection', '127.0.0.1:1');
  }
}

test('start() connects once: every call returns the same promise', async () => {
  const publisher = new StandInPublisher();
  const first = publisher.start();
  assert.equal(publisher.start(), first);
  publisher.connected.resolve();
  await first;
  assert.equal(publisher.start(), first);
  assert.equal(publisher.connects, 1);
  assert.equal(publisher.health().state, 'up');
});

test('start() after close() is rejected with publisher_closed and never connects', async () => {
  const publisher = new StandInPublisher();
  publisher.connected.resolve();
  publisher.shutDown.resolve();
  await publisher.close();
  await assert.rejects(publisher.start(), isCode('publisher_closed'));
  assert.equal(publisher.connects, 0);
});

test('publish() refuses before the adapter sees the record: not started, unroutable, closed', async () => {
  const publisher = new StandInPublisher();
  await assert.rejects(publisher.publish(audioRecord('acme', 1, Buffer.from('x'))), isPublishError(true));
  void publisher.start();
  await assert.rejects(publisher.publish(audioRecord('', 1, Buffer.from('x'))), isCode('record_invalid'));
  void publisher.close();
  await assert.rejects(publisher.publish(audioRecord('acme', 1, Buffer.from('x'))), isCode('publisher_closed'));
  assert.deepEqual(publisher.delivered, []);
});

test('publish() reaches the adapter once start() was called, before the connection is up', async () => {
  const publisher = new StandInPublisher();
  void publisher.start();
  const record = audioRecord('acme', 1, Buffer.from('x'));
  await publisher.publish(record);
  assert.deepEqual(publisher.delivered, [record]);
});

test('close() shuts down once and marks health closed only when the shutdown has finished', async () => {
  const publisher = new StandInPublisher();
  publisher.connected.resolve();
  await publisher.start();
  const closing = publisher.close();
  assert.equal(publisher.close(), closing);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(publisher.health().state, 'up', 'still shutting down');
  publisher.shutDown.resolve();
  await closing;
  assert.equal(publisher.health().state, 'closed');
  assert.equal(publisher.close(), closing);
  assert.equal(publisher.shutdowns, 1);
});

test("health changes are logged with the adapter's name and target", async () => {
  const publisher = new StandInPublisher();
  const lines: Array<{ fields: object; message: string }> = [];
  const log = (fields: object, message: string): number => lines.push({ fields, message });
  publisher.logTo({ info: log, warn: log });
  publisher.connected.resolve();
  await publisher.start();
  assert.deepEqual(lines, [
    {
      fields: { backend: 'redis_streams', target: '127.0.0.1:1', state: 'up', err: undefined },
      message: 'stand-in connection up',
    },
  ]);
});
