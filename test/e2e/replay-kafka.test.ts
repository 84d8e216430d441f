/**
 * `ingest-replay` against Kafka, as a user runs both: a native and an Exotel
 * call streamed through the built service come back from the topic as WAV
 * files equal to what was sent; a message produced again is removed and
 * counted; with --group, a second run finds nothing new; --follow with a group
 * writes a live call when it ends, drops the late copy of a call it wrote,
 * and commits the group's offsets while it runs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { IngestClient } from '../../src/client/ingest-client';
import { frameBytes } from '../support/ingest-server';
import { deleteTopicAfter, readTopic, SHARED_BROKERS } from '../support/kafka';
import { startKafkaService } from '../support/kafka-service';
import { buildCall, playCall } from '../support/telephony-simulator';
import { uniqueName } from '../support/unique-name';
import { readCallWav, readSidecar, runReplay, startReplay } from '../client/replay/replay-cli-run';

test(
  'Kafka: native and Exotel calls come back byte-exact, a message produced twice is removed',
  { timeout: 180_000 },
  async (t) => {
    const topic = uniqueName('replay');
    deleteTopicAfter(t, SHARED_BROKERS, topic);
    const service = await startKafkaService(
      t,
      { brokers: SHARED_BROKERS, topic, partitions: 3, replication: 1 },
      { BUFFER_DURATION_MS: '100', SUPPORT_EXOTEL: 'true', EXOTEL_BASIC_AUTH: 'ex:pw=tenant-a' },
    );
    const client = await IngestClient.connect(service.url, { token: service.sign({ tenant_id: 'tenant-a' }) });
    await client.start({ interactionId: 'kreplay-1' });
    const sent = Array.from({ length: 80 }, (_, i) => frameBytes(9, i + 1));
    for (const frame of sent) client.sendFrame(frame);
    assert.equal((await client.stop()).close.code, 1000);
    const exotel = buildCall({ chunks: 40, dtmf: [{ afterChunk: 10, digit: '3' }] });
    assert.equal((await playCall(`ws://ex:pw@127.0.0.1:${service.port}/v1/exotel`, exotel)).close.code, 1000);

    const messages = await readTopic(SHARED_BROKERS, topic);
    const copy = messages.find((m) => m.key === 'kreplay-1' && m.headers.type === 'audio');
    assert.ok(copy, 'an audio message of the native call');
    const kafka = new Kafka({ clientId: 'replay-test', brokers: SHARED_BROKERS, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: copy.key, value: copy.value, headers: copy.headers }] });
    await producer.disconnect();

    const args = ['--from', `kafka://${SHARED_BROKERS.join(',')}`, '--topic', topic, '--group', uniqueName('g')];
    const run = await runReplay(t, args);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(readCallWav(run.out, 'kreplay-1').data.equals(Buffer.concat(sent)), 'native PCM as sent');
    assert.equal(run.line('kreplay-1').duplicates_removed, copy.headers.frames);
    assert.ok(readCallWav(run.out, exotel.callSid).data.equals(Buffer.concat(exotel.tracks.get('')!.chunks)));
    assert.deepEqual(
      readSidecar(run.out, exotel.callSid).events.map((e) => [e.digit, e.after_seq]),
      [['3', 10]],
    );
    const again = await runReplay(t, args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, '', 'the group committed what it wrote');

    // --follow with a new group: the history first (the copy of kreplay-1 comes after its end), then a live call.
    const followGroup = uniqueName('f');
    const follow = startReplay(t, [...args.slice(0, -2), '--group', followGroup, '--follow']);
    await follow.following();
    await follow.waitForLine('kreplay-1');
    const live = await IngestClient.connect(service.url, { token: service.sign({ tenant_id: 'tenant-a' }) });
    await live.start({ interactionId: 'kreplay-live' });
    const liveSent = Array.from({ length: 30 }, (_, i) => frameBytes(4, i + 1));
    for (const frame of liveSent) live.sendFrame(frame);
    assert.equal((await live.stop()).close.code, 1000);
    await follow.waitForLine('kreplay-live');
    assert.ok(readCallWav(follow.out, 'kreplay-live').data.equals(Buffer.concat(liveSent)));
    // The group's offsets reach the end while the run goes on (committed every few seconds).
    const admin = kafka.admin();
    await admin.connect();
    t.after(() => admin.disconnect());
    const sum = (offsets: ReadonlyArray<{ offset: string }>): number =>
      offsets.reduce((n, o) => n + Number(o.offset), 0);
    const end = sum((await admin.fetchTopicOffsets(topic)).map((o) => ({ offset: o.high })));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId: followGroup, topics: [topic] });
      if (sum(committed.partitions.map((p) => ({ offset: Number(p.offset) < 0 ? '0' : p.offset }))) >= end) break;
      assert.ok(Date.now() < deadline, 'the follow run committed its offsets within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    follow.child.kill('SIGINT');
    const followed = await follow.done;
    assert.equal(followed.code, 0, followed.stderr);
    assert.doesNotMatch(followed.stdout, /part=/, 'the late copy of kreplay-1 started no second part');
    assert.match(followed.stderr, /1 records repeated calls already written and were dropped/);
  },
);
