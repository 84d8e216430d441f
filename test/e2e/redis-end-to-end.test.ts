/**
 * The service end to end into the real Redis, run as a user runs it: the
 * built cluster (node dist/src/primary/main.js, what `npm start` runs) with
 * WORKERS=2 and PUBSUB_ADAPTER=redis_streams.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { frameBytes } from '../support/ingest-server';
import { readStream } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';
import { field } from '../support/field-map';
import { assertAudioCovers, byInteraction, type SentStream } from '../support/stream-check';

const STREAMS = 50;
const FRAMES = 200;

async function runStream(url: string, token: string, sent: SentStream): Promise<IngestClient> {
  const client = await IngestClient.connect(url, { token });
  const started = await client.start({ interactionId: sent.interactionId, firstSeq: sent.firstSeq });
  assert.equal(started.next_seq, sent.firstSeq);
  for (const frame of sent.frames) client.sendFrame(frame);
  const { stopped, close } = await client.stop();
  assert.equal(close.code, 1000, `${sent.interactionId} closed with ${close.code} ${close.reason}`);
  assert.deepEqual(stopped, {
    type: 'stopped',
    last_seq: sent.firstSeq + sent.frames.length - 1,
    frames: sent.frames.length,
  });
  assert.equal(client.lastCommitted(), sent.firstSeq + sent.frames.length - 1, 'committed reaches the last seq');
  return client;
}

test(
  '2-3 fifty concurrent streams of 200 frames through a 2-worker ' +
    'cluster land in Redis exactly once, in order, byte-exact',
  async (t) => {
    const { cluster, admin, prefix, url, sign } = await startRedisCluster(
      t,
      'e2e',
      { BUFFER_DURATION_MS: '200', MAX_FRAME_BYTES: '4096', MAX_CHUNK_BYTES: '16384' },
      { streamKey: (p) => `${p}:{tenant_id}` },
    );
    const tenants = ['tenant-a', 'tenant-b'];
    const sent: SentStream[] = Array.from({ length: STREAMS }, (_, i) => ({
      interactionId: `call-${i}`,
      tenantId: tenants[i % 2],
      firstSeq: i % 5 === 0 ? 1001 : 1,
      frames: Array.from({ length: FRAMES }, (_, k) => frameBytes(i, k + 1, 160 + (i % 7) * 32)),
    }));
    await Promise.all(sent.map((s) => runStream(url, sign({ tenant_id: s.tenantId }), s)));

    for (const tenant of tenants) {
      const grouped = byInteraction(await readStream(admin, `${prefix}:${tenant}`));
      for (const s of sent.filter((x) => x.tenantId === tenant)) {
        const records = grouped.get(s.interactionId);
        assert.ok(records, `${s.interactionId} has records in ${tenant}'s stream`);
        const types = records.map((r) => field(r, 'type'));
        assert.equal(types[0], 'stream_started');
        assert.equal(types.at(-1), 'stream_ended');
        const ended = records.at(-1)!;
        assert.equal(field(ended, 'reason'), 'stop');
        assert.equal(Number(field(ended, 'last_seq')), s.firstSeq + FRAMES - 1);
        assert.equal(Number(field(ended, 'frames')), FRAMES);
        const streamIds = new Set(records.map((r) => field(r, 'stream_id')));
        assert.equal(streamIds.size, 1, 'one stream_id per stream');
        for (const r of records) {
          assert.equal(field(r, 'source'), 'native');
          assert.ok(!Number.isNaN(Date.parse(field(r, 'received_at'))));
        }
        const audio = records.filter((r) => field(r, 'type') === 'audio');
        assert.equal(
          audio.reduce((n, r) => n + Number(field(r, 'frames')), 0),
          FRAMES,
          'each frame exactly once',
        );
        for (const r of audio) {
          assert.equal(field(r, 'encoding'), 'pcm_s16le');
          assert.equal(field(r, 'sample_rate'), '8000');
          assert.equal(field(r, 'channels'), '1');
        }
        assertAudioCovers(records, s, s.firstSeq + FRAMES - 1);
      }
    }
    cluster.child.kill('SIGTERM');
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
  },
);

test(
  '2 SIGTERM during streaming: clients get 1001, the primary ' + 'exits 0, and every acked frame is in Redis',
  async (t) => {
    const { cluster, admin, streamKey, url, token } = await startRedisCluster(t, 'sigterm', {
      BUFFER_DURATION_MS: '30000', // nothing is flushed by time: SIGTERM must flush it
      ACK_INTERVAL: '5',
    });
    const streams = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const sent: SentStream = { interactionId: `term-${i}`, tenantId: 'tenant-a', firstSeq: 1, frames: [] };
        const client = await IngestClient.connect(url, { token });
        await client.start({ interactionId: sent.interactionId });
        for (let seq = 1; seq <= 50; seq++) {
          sent.frames.push(frameBytes(i, seq));
          client.sendFrame(sent.frames[seq - 1]);
        }
        await client.waitForMessage((m) => m.type === 'ack' && m.seq === 50);
        return { client, sent };
      }),
    );
    cluster.child.kill('SIGTERM');
    for (const { client } of streams) {
      const close = await client.closed;
      assert.equal(close.code, 1001, 'draining close code');
      assert.equal(client.lastCommitted(), 50, 'everything acked was committed before the close');
    }
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
    const grouped = byInteraction(await readStream(admin, streamKey));
    for (const { sent } of streams) {
      const records = grouped.get(sent.interactionId)!;
      assert.ok(records, `${sent.interactionId} in Redis`);
      assertAudioCovers(records, sent, 50);
      assert.equal(field(records.at(-1)!, 'reason'), 'shutdown');
    }
    assert.ok(cluster.logs().some((e) => e.msg === 'shutdown complete: everything buffered was published'));
  },
);
