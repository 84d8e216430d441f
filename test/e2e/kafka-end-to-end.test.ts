/**
 * The service end to end into the real Kafka broker, run as a user runs it:
 * the built cluster with WORKERS=2 and PUBSUB_ADAPTER=kafka. A consumer reads
 * the topic from the beginning, as a downstream transcriber would.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { startCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { frameBytes } from '../support/ingest-server';
import { deleteTopicAfter, readTopic, SHARED_BROKERS, type TopicMessage } from '../support/kafka';
import { uniqueName } from '../support/unique-name';
import { makeKeyPair, signToken } from '../support/tokens';

const STREAMS = 50;
const FRAMES = 200;

function kafkaEnv(topic: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PUBSUB_ADAPTER: 'kafka',
    KAFKA_BROKERS: SHARED_BROKERS.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_CREATE_TOPIC: 'true',
    KAFKA_TOPIC_PARTITIONS: '6',
    KAFKA_TOPIC_REPLICATION: '1',
    BACKEND_CONNECT_TIMEOUT_MS: '30000',
    ...extra,
  };
}

test(
  '4 fifty streams of 200 frames through a 2-worker cluster land in ' +
    'Kafka in order per key, byte-exact, with headers',
  async (t) => {
    const topic = uniqueName('e2e');
    deleteTopicAfter(t, SHARED_BROKERS, topic);
    const keys = makeKeyPair('ec');
    const port = await freePort();
    const cluster = await startCluster(t, {
      PORT: String(port),
      WORKERS: '2',
      JWT_PUBLIC_KEY: keys.publicKeyPem,
      BUFFER_DURATION_MS: '200',
      MAX_FRAME_BYTES: '4096',
      MAX_CHUNK_BYTES: '16384',
      ...kafkaEnv(topic),
    });
    await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
    const url = `ws://127.0.0.1:${port}/v1/ingest`;
    const sent = Array.from({ length: STREAMS }, (_, i) => ({
      interactionId: `kcall-${i}`,
      tenantId: i % 2 === 0 ? 'tenant-a' : 'tenant-b',
      frames: Array.from({ length: FRAMES }, (_, k) => frameBytes(i, k + 1, 160 + (i % 5) * 40)),
    }));
    await Promise.all(
      sent.map(async (s) => {
        const client = await IngestClient.connect(url, {
          token: signToken(keys.privateKey, { tenant_id: s.tenantId }),
        });
        await client.start({ interactionId: s.interactionId, metadata: { agent: `a-${s.interactionId}` } });
        for (const frame of s.frames) client.sendFrame(frame);
        const { close } = await client.stop();
        const errors = () =>
          cluster
            .logs()
            .filter((e) => e.level === 'error')
            .map((e) => JSON.stringify(e))
            .join('\n');
        assert.equal(
          close.code,
          1000,
          `${s.interactionId} closed ${close.code} ${close.reason}; errors logged:\n${errors()}`,
        );
        assert.equal(client.lastCommitted(), FRAMES);
      }),
    );

    const messages = await readTopic(SHARED_BROKERS, topic);
    const byKey = new Map<string, TopicMessage[]>();
    for (const m of messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))) {
      byKey.set(m.key, [...(byKey.get(m.key) ?? []), m]);
    }
    assert.ok(new Set(messages.map((m) => m.partition)).size > 1, 'interactions spread over partitions');
    for (const s of sent) {
      const records = byKey.get(s.interactionId);
      assert.ok(records, `${s.interactionId} has messages keyed by its interaction_id`);
      assert.equal(new Set(records.map((r) => r.partition)).size, 1, 'one interaction stays in one partition');
      assert.deepEqual(
        records.map((r) => r.headers.type).filter((t, i, a) => t !== 'audio' || a[i - 1] !== 'audio'),
        ['stream_started', 'audio', 'stream_ended'],
      );
      const started = records[0];
      assert.equal(started.headers.tenant_id, s.tenantId);
      assert.equal(started.headers.source, 'native');
      assert.deepEqual(
        (JSON.parse(started.value.toString()) as { metadata: unknown }).metadata,
        { agent: `a-${s.interactionId}` },
        'non-audio value is the record as JSON',
      );
      const ended = JSON.parse(records.at(-1)!.value.toString()) as { reason: string; last_seq: number };
      assert.equal(ended.reason, 'stop');
      assert.equal(ended.last_seq, FRAMES);
      let expected = 1;
      for (const r of records.filter((m) => m.headers.type === 'audio')) {
        const start = Number(r.headers.seq_start);
        const end = Number(r.headers.seq_end);
        assert.equal(start, expected, `${s.interactionId}: audio starts at ${start}, expected ${expected}`);
        assert.equal(Number(r.headers.frames), end - start + 1);
        assert.equal(r.headers.encoding, 'pcm_s16le');
        assert.equal(r.headers.interaction_id, s.interactionId);
        assert.ok(
          r.value.equals(Buffer.concat(s.frames.slice(start - 1, end))),
          `${s.interactionId}: payload ${start}-${end} byte-exact`,
        );
        expected = end + 1;
      }
      assert.equal(expected - 1, FRAMES, 'every frame, exactly once');
    }
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);

test(
  '4 unreachable brokers at start: workers report the named brokers ' +
    'and are retried with backoff; health is unhealthy',
  async (t) => {
    const deadPort = await freePort();
    const cluster = await startCluster(t, {
      PORT: String(await freePort()),
      WORKERS: '1',
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: `127.0.0.1:${deadPort}`,
      BACKEND_CONNECT_TIMEOUT_MS: '300',
    });
    const failed = await cluster.waitForLog(
      (e) => e.msg?.toString().startsWith('worker start-up failed') === true,
      'start-up failure',
    );
    assert.equal(failed.code, 'backend_unavailable');
    assert.match(String(failed.msg), new RegExp(`kafka brokers 127\\.0\\.0\\.1:${deadPort}`));
    await cluster.waitForLog(
      (e) => e.msg === 'worker exited unexpectedly: replacing it' && Number(e.restart_in_ms) > 0,
      'a backed-off restart',
    );
    const health = await fetch(`http://127.0.0.1:${cluster.metricsPort}/health`);
    assert.equal(health.status, 503);
    assert.equal(((await health.json()) as { status: string }).status, 'unhealthy');
    cluster.child.kill('SIGTERM');
    await cluster.exited;
  },
);

test('4 a missing topic without KAFKA_CREATE_TOPIC stops the service with a clear message and exit 78', async (t) => {
  const topic = uniqueName('missing');
  const cluster = await startCluster(t, {
    PORT: String(await freePort()),
    WORKERS: '1',
    PUBSUB_ADAPTER: 'kafka',
    KAFKA_BROKERS: SHARED_BROKERS.join(','),
    KAFKA_TOPIC: topic,
    BACKEND_CONNECT_TIMEOUT_MS: '30000',
  });
  const { code } = await cluster.exited;
  assert.equal(code, 78);
  assert.match(
    cluster.stderr.join(''),
    new RegExp(`kafka topic "${topic.replace(/\./g, '\\.')}" does not exist.*KAFKA_CREATE_TOPIC=true`),
  );
});

test(
  '4 bad Kafka configuration is refused at start with 78: ' + 'malformed KAFKA_BROKERS, SASL without credentials',
  async (t) => {
    const malformed = await startCluster(t, {
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: 'kafka-1:9092,nohostport,kafka-2:99999',
    });
    assert.equal((await malformed.exited).code, 78);
    const report = malformed.stderr.join('');
    assert.match(report, /KAFKA_BROKERS/);
    assert.match(report, /nohostport/);
    const sasl = await startCluster(t, {
      PUBSUB_ADAPTER: 'kafka',
      KAFKA_BROKERS: '127.0.0.1:9092',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_PASSWORD: 's3cret-value',
    });
    assert.equal((await sasl.exited).code, 78);
    const saslReport = sasl.stderr.join('');
    assert.match(saslReport, /KAFKA_SASL_USERNAME/);
    assert.doesNotMatch(saslReport, /s3cret-value/, 'the password is masked');
  },
);
