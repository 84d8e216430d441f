/**
 * `ingest-replay` against Redis, as a user runs both: calls streamed through
 * the built service (native, Exotel, Twilio) are read back by the built CLI
 * process into WAV files whose samples equal what was sent; duplicates put
 * straight into the stream are removed and counted; a deleted record is a gap
 * in the line, the sidecar and the exit code; a consumer group acknowledges
 * what it wrote; --follow closes a live call's file when its stream ends; a
 * native stream resumed after its worker was killed comes back exactly.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { deferred } from '../support/deferred';
import { runResumingStream } from '../support/resuming-stream';
import type { SentStream } from '../support/stream-check';
import { frameBytes } from '../support/ingest-server';
import { readStream, REDIS_URL } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { entryFields, field } from '../support/field-map';
import { buildCall, playCall, type SimulatedCall } from '../support/telephony-simulator';
import { readCallWav, readSidecar, runReplay, startReplay, stereoPcm } from '../client/replay/replay-cli-run';

const TWILIO_TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
const TWILIO_PUBLIC_URL = 'wss://ingest.example.com/v1/twilio';
const EXOTEL_USER = { user: 'exotel-a', password: 'pw-a', tenant: 'tenant-a' };

/** A cluster taking all three dialects, records of at most 8 KiB so each call has several. */
function startService(t: TestContext, label: string): Promise<RedisCluster> {
  return startRedisCluster(t, label, {
    BUFFER_DURATION_MS: '100',
    MAX_FRAME_BYTES: '4096',
    MAX_CHUNK_BYTES: '8192',
    SUPPORT_EXOTEL: 'true',
    EXOTEL_BASIC_AUTH: `${EXOTEL_USER.user}:${EXOTEL_USER.password}=${EXOTEL_USER.tenant}`,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    TWILIO_PUBLIC_URL,
    TWILIO_ACCOUNT_TENANTS: 'AC-test=tenant-a',
  });
}

/** A native call of `frames` frames of 320 bytes, streamed to its stop; resolves with the bytes sent. */
async function nativeCall(service: RedisCluster, id: string, frames: number, cadenceMs = 0): Promise<Buffer[]> {
  const client = await IngestClient.connect(service.url, { token: service.token });
  await client.start({ interactionId: id, metadata: { agent: 'a-7' } });
  const sent = Array.from({ length: frames }, (_, i) => frameBytes(id.length, i + 1));
  for (const frame of sent) {
    client.sendFrame(frame);
    if (cadenceMs > 0) await new Promise((resolve) => setTimeout(resolve, cadenceMs));
  }
  const { close } = await client.stop();
  assert.equal(close.code, 1000);
  return sent;
}

async function exotelCall(service: RedisCluster): Promise<SimulatedCall> {
  const call = buildCall({
    chunks: 60,
    dtmf: [{ afterChunk: 12, digit: '7', durationMs: 80 }],
    marks: [{ afterChunk: 40, name: 'greeting' }],
  });
  const url = `ws://${EXOTEL_USER.user}:${EXOTEL_USER.password}@127.0.0.1:${service.port}/v1/exotel`;
  assert.equal((await playCall(url, call)).close.code, 1000);
  return call;
}

async function twilioCall(service: RedisCluster): Promise<SimulatedCall> {
  const call = buildCall({ provider: 'twilio', tracks: ['inbound', 'outbound'], chunks: 50 });
  const signature = createHmac('sha1', TWILIO_TOKEN).update(TWILIO_PUBLIC_URL).digest('base64');
  const result = await playCall(`ws://127.0.0.1:${service.port}/v1/twilio`, call, {
    headers: { 'X-Twilio-Signature': signature },
  });
  assert.equal(result.close.code, 1000);
  return call;
}

/** Waits until the stream holds `count` stream_ended records (the service publishes them last). */
async function waitForEnds(service: RedisCluster, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const entries = await readStream(service.admin, service.streamKey);
    if (entries.filter((e) => field(entryFields(e), 'type') === 'stream_ended').length >= count) return;
    assert.ok(Date.now() < deadline, `${count} stream_ended records within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test(
  'native, Exotel and Twilio calls come back as WAV files whose samples equal what was sent',
  { timeout: 120_000 },
  async (t) => {
    const service = await startService(t, 'replay-all');
    const native = await nativeCall(service, 'replay-native-1', 120);
    const exotel = await exotelCall(service);
    const twilio = await twilioCall(service);
    await waitForEnds(service, 4);
    const from = ['--from', REDIS_URL, '--key', service.streamKey];

    const run = await runReplay(t, from);
    assert.equal(run.code, 0, run.stderr);
    const nativeWav = readCallWav(run.out, 'replay-native-1');
    assert.deepEqual([nativeWav.encoding, nativeWav.sampleRate, nativeWav.channels], ['pcm_s16le', 8000, 1]);
    assert.ok(nativeWav.data.equals(Buffer.concat(native)), 'native PCM as sent');
    assert.deepEqual(run.line('replay-native-1'), {
      tenant: 'tenant-a',
      source: 'native',
      frames: '120',
      duration: '2.400s',
      duplicates_removed: '0',
      gaps: '0',
      missing_frames: '0',
      ended: 'yes',
      wav: 'replay-native-1.wav',
    });
    assert.deepEqual(readSidecar(run.out, 'replay-native-1').tracks[0].frames, 120);

    const exotelWav = readCallWav(run.out, exotel.callSid);
    assert.ok(exotelWav.data.equals(Buffer.concat(exotel.tracks.get('')!.chunks)), 'Exotel PCM as sent');
    const sidecar = readSidecar(run.out, exotel.callSid);
    assert.equal(sidecar.source, 'exotel');
    assert.deepEqual(
      sidecar.events.map((e) => [e.type, e.digit ?? e.name, e.after_seq, e.at_ms]),
      [
        ['dtmf', '7', 12, 240],
        ['mark', 'greeting', 40, 800],
      ],
      'dtmf and mark after the chunks they followed, at 20 ms a chunk',
    );

    const inbound = Buffer.concat(twilio.tracks.get('inbound')!.chunks);
    const outbound = Buffer.concat(twilio.tracks.get('outbound')!.chunks);
    const twilioWav = readCallWav(run.out, twilio.callSid);
    assert.deepEqual([twilioWav.encoding, twilioWav.channels], ['pcm_s16le', 2]);
    assert.ok(twilioWav.data.equals(stereoPcm(inbound, outbound)), 'mu-law decoded per G.711, inbound left');
    const tracks = readSidecar(run.out, twilio.callSid).tracks.map((tr) => [tr.track, tr.channel]);
    assert.deepEqual(tracks, [
      ['inbound', 0],
      ['outbound', 1],
    ]);

    const kept = await runReplay(t, [...from, '--interaction', twilio.callSid, '--wav-format', 'as-sent']);
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(kept.stdout.trim().split('\n').length, 1, 'only the interaction asked for');
    const keptWav = readCallWav(kept.out, twilio.callSid);
    assert.equal(keptWav.encoding, 'mulaw');
    const interleaved = Buffer.alloc(inbound.length * 2);
    for (let i = 0; i < inbound.length; i++) {
      interleaved[i * 2] = inbound[i];
      interleaved[i * 2 + 1] = outbound[i];
    }
    assert.ok(keptWav.data.equals(interleaved), 'mu-law kept byte for byte');
  },
);

test(
  'duplicates put into the stream are removed and counted; a deleted record is a gap, exit 3',
  { timeout: 120_000 },
  async (t) => {
    const service = await startService(t, 'replay-dup');
    const sent = await nativeCall(service, 'replay-dup-1', 100);
    const gapped = await nativeCall(service, 'replay-gap-1', 100);
    await waitForEnds(service, 2);
    const entries = (await readStream(service.admin, service.streamKey)).map((e) => ({ id: e.id, f: entryFields(e) }));
    const audio = (id: string) =>
      entries.filter((e) => field(e.f, 'interaction_id') === id && field(e.f, 'type') === 'audio');
    const dupAudio = audio('replay-dup-1');
    assert.ok(dupAudio.length >= 3, `several audio records (${dupAudio.length})`);
    // A record again as it was, and one overlapping two others with other boundaries.
    const again = dupAudio[1].f;
    const a = dupAudio[0].f;
    const start = Number(field(a, 'seq_end')) - 1;
    const overlap = new Map(a);
    overlap.set('seq_start', Buffer.from(String(start)));
    overlap.set('seq_end', Buffer.from(String(start + 3)));
    overlap.set('frames', Buffer.from('4'));
    overlap.set('payload', Buffer.concat(sent.slice(start - 1, start + 3)));
    for (const fields of [again, overlap])
      await service.admin.xadd(service.streamKey, '*', ...[...fields].flatMap(([k, v]) => [k, v]));
    const from = ['--from', REDIS_URL, '--key', service.streamKey];

    const clean = await runReplay(t, [...from, '--interaction', 'replay-dup-1']);
    assert.equal(clean.code, 0, clean.stderr);
    const removed = Number(field(again, 'frames')) + 4;
    assert.equal(clean.line('replay-dup-1').duplicates_removed, String(removed));
    assert.ok(readCallWav(clean.out, 'replay-dup-1').data.equals(Buffer.concat(sent)), 'each frame once');

    const lost = audio('replay-gap-1')[1];
    await service.admin.xdel(service.streamKey, lost.id);
    const [from1, to1] = [Number(field(lost.f, 'seq_start')), Number(field(lost.f, 'seq_end'))];
    const run = await runReplay(t, [...from, '--tenant', 'tenant-a']);
    assert.equal(run.code, 3, 'a gap is exit 3');
    assert.equal(run.line('replay-gap-1').gaps, '1');
    assert.equal(run.line('replay-gap-1').missing_frames, String(to1 - from1 + 1));
    assert.equal(run.line('replay-dup-1').gaps, '0');
    const sidecar = readSidecar(run.out, 'replay-gap-1');
    assert.deepEqual(
      sidecar.gaps.map((g) => [g.from_seq, g.to_seq, g.frames]),
      [[from1, to1, to1 - from1 + 1]],
    );
    const wav = readCallWav(run.out, 'replay-gap-1').data;
    assert.equal(wav.length, 100 * 320, 'the gap is filled with silence: the timeline holds');
    assert.ok(wav.subarray((from1 - 1) * 320, to1 * 320).equals(Buffer.alloc((to1 - from1 + 1) * 320)));
    assert.ok(wav.subarray(to1 * 320).equals(Buffer.concat(gapped.slice(to1))));
  },
);

test('with --group, XREADGROUP reads and XACK acknowledges every entry written', { timeout: 120_000 }, async (t) => {
  const service = await startService(t, 'replay-group');
  const sent = await nativeCall(service, 'replay-group-1', 50);
  await waitForEnds(service, 1);
  const args = ['--from', REDIS_URL, '--key', service.streamKey, '--group', 'archive'];
  const run = await runReplay(t, args);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(readCallWav(run.out, 'replay-group-1').data.equals(Buffer.concat(sent)));
  const [count] = (await service.admin.xpending(service.streamKey, 'archive')) as [number];
  assert.equal(count, 0, 'nothing left pending: every entry was acknowledged');
  const again = await runReplay(t, args);
  assert.equal(again.code, 0);
  assert.equal(again.stdout, '', 'the group has read everything: a second run writes nothing');
});

test('--follow closes a live call’s WAV when its stream_ended arrives', { timeout: 120_000 }, async (t) => {
  const service = await startService(t, 'replay-follow');
  const replay = startReplay(t, ['--from', REDIS_URL, '--key', service.streamKey, '--follow']);
  // The call starts once the run tails the stream: every record of it arrives while following.
  await replay.following();
  const client = await IngestClient.connect(service.url, { token: service.token });
  await client.start({ interactionId: 'replay-live-1' });
  const sent = Array.from({ length: 60 }, (_, i) => frameBytes(3, i + 1));
  for (const frame of sent.slice(0, 30)) client.sendFrame(frame);
  await client.waitForMessage((m) => m.type === 'committed' && Number(m.seq) >= 30);
  for (const frame of sent.slice(30)) client.sendFrame(frame);
  await client.stop();
  await replay.waitForLine('replay-live-1');
  assert.ok(readCallWav(replay.out, 'replay-live-1').data.equals(Buffer.concat(sent)));
  replay.child.kill('SIGTERM');
  const done = await replay.done;
  assert.equal(done.code, 0, done.stderr);
  assert.equal(done.line('replay-live-1').ended, 'yes');
});

test(
  'a native stream resumed after its worker was killed mid-stream comes back exactly',
  { timeout: 120_000 },
  async (t) => {
    // Records by size, not time: at the kill some frames are acked but not yet committed, and are sent again.
    const service = await startRedisCluster(t, 'replay-resume', {
      ACK_INTERVAL: '10',
      BUFFER_DURATION_MS: '30000',
      MAX_FRAME_BYTES: '4096',
      MAX_CHUNK_BYTES: '4096',
    });
    const sent: SentStream = {
      interactionId: 'replay-resumed-1',
      tenantId: 'tenant-a',
      firstSeq: 1,
      frames: Array.from({ length: 100 }, (_, k) => frameBytes(1, k + 1, 200)),
    };
    const reached = deferred();
    const release = deferred();
    const running = runResumingStream(t, {
      url: service.url,
      token: service.token,
      sent,
      ackInterval: 10,
      hold: { beforeSeq: 51, release: release.promise, onReached: reached.resolve },
    });
    running.catch(() => undefined); // awaited below
    await reached.promise;
    const started = service.cluster
      .logs()
      .find((e) => e.msg === 'stream started' && e.interaction_id === sent.interactionId);
    assert.ok(started, 'the worker serving the stream logged it');
    process.kill(started.pid as number, 'SIGKILL');
    await service.cluster.waitForLog((e) => e.msg === 'worker exited unexpectedly: replacing it', 'the kill noticed');
    release.resolve();
    const { connections } = await running;
    assert.ok(connections.length >= 2, 'the stream was resumed on a new connection');
    await waitForEnds(service, 1);

    const run = await runReplay(t, [
      '--from',
      REDIS_URL,
      '--key',
      service.streamKey,
      '--interaction',
      sent.interactionId,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(
      readCallWav(run.out, sent.interactionId).data.equals(Buffer.concat(sent.frames)),
      'each frame once, in order',
    );
    const line = run.line(sent.interactionId);
    assert.deepEqual([line.frames, line.gaps, line.ended, line.part], ['100', '0', 'yes', undefined]);
  },
);
