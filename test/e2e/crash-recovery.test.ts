/**
 * A worker killed with SIGKILL in the middle of 40 streams: the primary
 * replaces it, the other worker's streams go on untouched, and the dead
 * worker's clients (1006) resume from their last committed seq + 1, so every
 * frame of every stream ends up in Redis, in order, byte-exact.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameBytes } from '../support/ingest-server';
import { readStream } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';
import { countdown, deferred } from '../support/deferred';
import { assertResumedAudioCovers, runResumingStream } from '../support/resuming-stream';
import { field } from '../support/field-map';
import { assertAudioCovers, byInteraction, type SentStream } from '../support/stream-check';

const STREAMS = 40;
const FRAMES = 200;
const ACK_INTERVAL = 10;

test(
  'a worker killed with SIGKILL mid-stream is replaced; its clients resume from ' +
    "committed + 1 and every frame lands in Redis; the other worker's streams are untouched",
  { timeout: 120_000 },
  async (t) => {
    const { cluster, admin, streamKey, url, token } = await startRedisCluster(t, 'crash', {
      ACK_INTERVAL: String(ACK_INTERVAL),
      // Records by size, never by time: at the kill every stream has some frames
      // committed and some only acked (received, buffered), which the kill loses.
      BUFFER_DURATION_MS: '30000',
      MAX_FRAME_BYTES: '4096',
      MAX_CHUNK_BYTES: '4096',
    });
    // The primary's lines (its own order), not the workers' (theirs may come after "all workers ready").
    const workersBefore = cluster
      .logs()
      .filter((e) => e.role === 'primary' && e.msg === 'worker ready')
      .map((e) => e.worker_pid as number);
    assert.equal(workersBefore.length, 2);

    const sent: SentStream[] = Array.from({ length: STREAMS }, (_, i) => ({
      interactionId: `crash-${i}`,
      tenantId: 'tenant-a',
      firstSeq: 1,
      frames: Array.from({ length: FRAMES }, (_, k) => frameBytes(i, k + 1, 200 + (i % 9) * 16)),
    }));
    const atHalf = countdown(STREAMS);
    const release = deferred();
    const running = sent.map((s) =>
      runResumingStream(t, {
        url,
        token,
        sent: s,
        ackInterval: ACK_INTERVAL,
        hold: { beforeSeq: FRAMES / 2 + 1, release: release.promise, onReached: atHalf.tick },
      }),
    );
    const results = Promise.all(running);
    results.catch(() => undefined); // awaited below; a failure before the release must not go unhandled
    await atHalf.promise;

    // Which worker serves which stream: the worker logs each stream it starts, with its pid.
    const firstServer = new Map<string, number>();
    for (const e of cluster.logs()) {
      if (e.msg === 'stream started' && typeof e.interaction_id === 'string' && !firstServer.has(e.interaction_id))
        firstServer.set(e.interaction_id, e.pid as number);
    }
    const victim = workersBefore[0];
    const onVictim = new Set(
      sent.filter((s) => firstServer.get(s.interactionId) === victim).map((s) => s.interactionId),
    );
    assert.ok(
      onVictim.size > 0 && onVictim.size < STREAMS,
      `streams spread over both workers (${onVictim.size} of ${STREAMS} on the victim)`,
    );

    process.kill(victim, 'SIGKILL');
    const exit = await cluster.waitForLog(
      (e) => e.msg === 'worker exited unexpectedly: replacing it',
      'the primary noticing the kill',
    );
    assert.equal(exit.signal, 'SIGKILL');
    release.resolve();
    const replacement = await cluster.waitForLog(
      (e) => e.role === 'primary' && e.msg === 'worker ready' && !workersBefore.includes(e.worker_pid as number),
      'a replacement worker',
    );
    const outcomes = await results;

    const grouped = byInteraction(await readStream(admin, streamKey));
    for (const [i, s] of sent.entries()) {
      const { connections, stopped } = outcomes[i];
      // `frames` counts what the last connection carried.
      assert.deepEqual(stopped, {
        type: 'stopped',
        last_seq: FRAMES,
        frames: FRAMES - connections.at(-1)!.firstSeq + 1,
      });
      const records = grouped.get(s.interactionId);
      assert.ok(records, `${s.interactionId} has records`);
      if (onVictim.has(s.interactionId)) {
        assert.equal(
          connections[0].close.code,
          1006,
          `${s.interactionId}: the killed worker's connection closes abnormally`,
        );
        for (let k = 1; k < connections.length; k++) {
          assert.equal(
            connections[k].firstSeq,
            connections[k - 1].committed + 1,
            `${s.interactionId}: resumed at the last committed seq + 1`,
          );
        }
        assert.ok(connections.length >= 2, `${s.interactionId} reconnected`);
        assertResumedAudioCovers(records, s, FRAMES);
      } else {
        assert.equal(
          connections.length + outcomes[i].lostConnects,
          1,
          `${s.interactionId} on the surviving worker needed no reconnection`,
        );
        assert.equal(connections[0].close.code, 1000);
        assert.equal(records.filter((r) => field(r, 'type') === 'stream_started').length, 1);
        assertAudioCovers(records, s, FRAMES); // exactly once: untouched by the kill
      }
      const last = records.at(-1)!;
      assert.equal(field(last, 'type'), 'stream_ended');
      assert.equal(field(last, 'reason'), 'stop');
      assert.equal(field(last, 'stream_id'), connections.at(-1)!.streamId);
    }
    assert.ok(typeof replacement.worker_pid === 'number');
    cluster.child.kill('SIGTERM');
    assert.deepEqual(await cluster.exited, { code: 0, signal: null });
  },
);
