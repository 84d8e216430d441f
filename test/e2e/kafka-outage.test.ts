/**
 * A Kafka broker outage, on a private broker of the test's own (stopping the
 * shared one would disturb the other test files running meanwhile): publishes
 * fail as retryable and health degrades; when the broker is back, health
 * recovers and nothing that was acknowledged is missing. Duplicates are
 * allowed (delivery is at least once) and counted.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { KafkaPublisher } from '../../src/shared/publishing/kafka/kafka-publisher';
import { isPublishError, stateIs, waitForHealth } from '../support/publisher-checks';
import { audioRecord, recordBase } from '../support/sample-records';
import { startCluster } from '../support/cluster';
import { freePort, freePorts } from '../support/free-port';
import { httpGet, pollUntil } from '../support/http-get';
import { frameBytes, testConfig } from '../support/ingest-server';
import { kafkaBroker, readTopic } from '../support/kafka';
import { uniqueName } from '../support/unique-name';
import { makeKeyPair, signToken } from '../support/tokens';

async function privateBroker(t: TestContext) {
  const [port, controllerPort] = await freePorts(2);
  const broker = kafkaBroker.restartable({ port: port, controllerPort: controllerPort });
  t.after(() => broker.reset());
  await broker.start();
  return broker;
}

test(
  '4 publisher: a stopped broker makes publishes fail as retryable ' +
    'and health degrade; a restarted one restores both',
  async (t) => {
    const broker = await privateBroker(t);
    const topic = uniqueName('outage-publisher');
    const publisher = new KafkaPublisher(
      testConfig({
        PUBSUB_ADAPTER: 'kafka',
        KAFKA_BROKERS: broker.brokers.join(','),
        KAFKA_TOPIC: topic,
        KAFKA_CREATE_TOPIC: 'true',
        KAFKA_TOPIC_PARTITIONS: '1',
        KAFKA_TOPIC_REPLICATION: '1',
        BACKEND_CONNECT_TIMEOUT_MS: '30000',
      }),
    );
    t.after(() => publisher.close());
    await publisher.start();
    const tenant = 'tenant-outage';
    const stream = recordBase(tenant);
    await publisher.publish(audioRecord(tenant, 1, Buffer.from('before'), stream));
    assert.equal(publisher.health().state, 'up');

    await broker.stop();
    await assert.rejects(
      publisher.publish(audioRecord(tenant, 2, Buffer.from('during'), stream)),
      isPublishError(true),
    );
    await waitForHealth(publisher, stateIs('degraded', 'down'), 'health degraded or down');

    await broker.start();
    // The stream's queue retries with backoff; here the test is that queue.
    await pollUntil(
      async () =>
        publisher.publish(audioRecord(tenant, 2, Buffer.from('during'), stream)).then(
          () => true,
          () => undefined,
        ),
      'a publish succeeding after the restart',
      60_000,
      200,
    );
    await waitForHealth(publisher, stateIs('up'), 'health up again');
    const payloads = (await readTopic(broker.brokers, topic)).map((m) => m.value.toString());
    assert.equal(payloads[0], 'before');
    assert.ok(payloads.includes('during'));
  },
);

test(
  '4 broker outage mid-stream through the cluster: streams keep being acked, ' +
    'health goes degraded then healthy, nothing acked is missing',
  async (t) => {
    const broker = await privateBroker(t);
    const topic = uniqueName('outage-e2e');
    const keys = makeKeyPair('ec');
    const port = await freePort();
    const cluster = await startCluster(t, {
      PORT: String(port),
      WORKERS: '2',
      JWT_PUBLIC_KEY: keys.publicKeyPem,
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_TOPIC: topic,
      KAFKA_CREATE_TOPIC: 'true',
      KAFKA_TOPIC_PARTITIONS: '3',
      KAFKA_TOPIC_REPLICATION: '1',
      BACKEND_CONNECT_TIMEOUT_MS: '30000',
      BUFFER_DURATION_MS: '100',
      ACK_INTERVAL: '5',
      BACKEND_UNHEALTHY_AFTER_MS: '600000',
    });
    await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
    const health = async (): Promise<string> =>
      (JSON.parse((await httpGet(`http://127.0.0.1:${cluster.metricsPort}/health`)).body) as { status: string }).status;
    assert.equal(await health(), 'healthy');

    const token = signToken(keys.privateKey, { tenant_id: 'tenant-a' });
    const streams = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const client = await IngestClient.connect(`ws://127.0.0.1:${port}/v1/ingest`, { token });
        await client.start({ interactionId: `outage-${i}` });
        return { client, index: i, frames: [] as Buffer[] };
      }),
    );
    /** Sends `count` more frames on every stream and waits for their acks (the service received and buffered them). */
    const sendAndAck = async (count: number): Promise<void> => {
      await Promise.all(
        streams.map(async (s) => {
          for (let k = 0; k < count; k++) {
            const frame = frameBytes(s.index, s.frames.length + 1);
            s.frames.push(frame);
            s.client.sendFrame(frame);
          }
          const seq = s.frames.length;
          await s.client.waitForMessage((m) => m.type === 'ack' && m.seq === seq);
        }),
      );
    };

    await sendAndAck(20);
    await Promise.all(
      streams.map((s) =>
        s.client.waitFor(() => s.client.lastCommitted() === 20 || undefined, 'committed before the outage'),
      ),
    );
    await broker.stop();
    await sendAndAck(20); // the service keeps receiving and acking while the backend is down
    await pollUntil(
      async () => ((await health()) === 'degraded' ? true : undefined),
      '/health degraded during the outage',
      60_000,
      100,
    );
    await sendAndAck(20);
    await broker.start();
    await pollUntil(
      async () => ((await health()) === 'healthy' ? true : undefined),
      '/health healthy after the restart',
      90_000,
      100,
    );
    await Promise.all(
      streams.map(async (s) => {
        const { close, stopped } = await s.client.stop();
        assert.equal(close.code, 1000, `closed ${close.code} ${close.reason}`);
        assert.equal(stopped?.last_seq, 60);
        assert.equal(s.client.lastCommitted(), 60);
      }),
    );

    const messages = await readTopic(broker.brokers, topic);
    let duplicates = 0;
    for (const s of streams) {
      const seen = new Map<number, Buffer>();
      const audioRecords = messages.filter((m) => m.key === `outage-${s.index}` && m.headers.type === 'audio');
      const ranges = new Set<string>();
      for (const m of audioRecords) {
        const start = Number(m.headers.seq_start);
        const end = Number(m.headers.seq_end);
        if (ranges.has(`${start}-${end}`)) duplicates++;
        ranges.add(`${start}-${end}`);
        const frameSize = m.value.length / (end - start + 1);
        for (let seq = start; seq <= end; seq++)
          seen.set(seq, m.value.subarray((seq - start) * frameSize, (seq - start + 1) * frameSize));
      }
      for (let seq = 1; seq <= 60; seq++) {
        assert.ok(seen.get(seq)?.equals(s.frames[seq - 1]), `outage-${s.index}: frame ${seq} present and byte-exact`);
      }
    }
    t.diagnostic(`duplicate audio records after the outage (at least once delivery): ${duplicates}`);
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);
