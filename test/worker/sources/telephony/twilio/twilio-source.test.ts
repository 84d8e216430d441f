/**
 * Twilio Media Streams on a real server (protocol.md 4.2): the upgrade's
 * signature, the tenant from the accountSid map, and each track of one
 * WebSocket as its own byte-exact stream of mu-law records.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { twilioProtocol } from '../../../../../src/worker/sources/telephony/twilio/twilio-source';
import { startTestServer, type TestServer } from '../../../../support/ingest-server';
import { field } from '../../../../support/field-map';
import { assertCallRecords, trackRecords, whenCallEnded } from '../../../../support/telephony-check';
import {
  buildCall,
  connectProvider,
  playCall,
  simulateCall,
  UpgradeRefusedError,
} from '../../../../support/telephony-simulator';
import { memoryPublisher as memory } from '../../../../support/in-memory-records';
import type { IngestRecord, StreamStartedRecord } from '../../../../../src/shared/publishing/records';

const TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
const PUBLIC_URL = 'wss://ingest.example.com/v1/twilio';
const TWILIO_ENV = {
  TWILIO_AUTH_TOKEN: TOKEN,
  TWILIO_PUBLIC_URL: PUBLIC_URL,
  TWILIO_ACCOUNT_TENANTS: 'AC-test=tenant-t,AC-other=tenant-o',
};

/** As Twilio documents it: HMAC-SHA1 keyed with the auth token over the URL it called, base64. */
function signature(url: string, token = TOKEN): string {
  return createHmac('sha1', token).update(url).digest('base64');
}

function twilioUrl(server: TestServer): string {
  return `ws://127.0.0.1:${server.port}/v1/twilio`;
}

async function refusedWith(
  server: TestServer,
  headers: Record<string, string>,
): Promise<{ status: number; error: string }> {
  const err = await connectProvider(twilioUrl(server), headers).then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UpgradeRefusedError);
  return { status: err.status, error: (JSON.parse(err.body) as { error: string }).error };
}

test(
  '4.2 a valid signature: both tracks of one socket become their own ' +
    'byte-exact mu-law streams, dtmf and mark in place, stop',
  async (t) => {
    const server = await startTestServer(t, TWILIO_ENV);
    const { call, result } = await simulateCall(twilioUrl(server), {
      provider: 'twilio',
      headers: { 'X-Twilio-Signature': signature(PUBLIC_URL) },
      tracks: ['inbound', 'outbound'],
      chunks: 30,
      dtmf: [{ afterChunk: 12, digit: '1' }],
      marks: [{ afterChunk: 20, name: 'greeting played' }],
      customParameters: { FirstName: 'Jane', from: '+15550100' },
    });
    assert.equal(result.close.code, 1000);
    assert.equal(result.received, 0, 'nothing is sent to Twilio');
    const records = await whenCallEnded(memory(server), call);
    assertCallRecords(records, call, { tenant: 'tenant-t', reason: 'stop', encoding: 'mulaw', sampleRate: 8000 });
    assert.deepEqual(
      trackRecords(records, call, 'outbound').filter((r) => field(r, 'type') === 'dtmf'),
      [],
      'an inbound_track digit is on the inbound stream only',
    );
  },
);

test('4.2 a wrong, missing, or https:// signature is refused with 401 before the handshake', async (t) => {
  const server = await startTestServer(t, TWILIO_ENV);
  assert.deepEqual(await refusedWith(server, { 'X-Twilio-Signature': signature(PUBLIC_URL, 'not-the-token') }), {
    status: 401,
    error: 'twilio_signature_invalid',
  });
  assert.deepEqual(await refusedWith(server, {}), { status: 401, error: 'twilio_signature_invalid' });
  assert.deepEqual(
    await refusedWith(server, { 'X-Twilio-Signature': signature('https://ingest.example.com/v1/twilio') }),
    { status: 401, error: 'twilio_signature_invalid' },
  );
  assert.deepEqual(
    await refusedWith(server, { 'X-Twilio-Signature': signature(`ws://127.0.0.1:${server.port}/v1/twilio`) }),
    { status: 401, error: 'twilio_signature_invalid' },
    'never the URL rebuilt from Host',
  );
  assert.equal(server.server.stats.authFailures.get('twilio_signature_invalid'), 4);
});

test('4.2 tenant from TWILIO_ACCOUNT_TENANTS; an unmapped accountSid closes with 1008', async (t) => {
  const server = await startTestServer(t, TWILIO_ENV);
  const headers = { 'X-Twilio-Signature': signature(PUBLIC_URL) };
  const { call } = await simulateCall(twilioUrl(server), {
    provider: 'twilio',
    headers,
    accountSid: 'AC-other',
    chunks: 4,
  });
  assertCallRecords(await whenCallEnded(memory(server), call), call, {
    tenant: 'tenant-o',
    reason: 'stop',
    encoding: 'mulaw',
  });
  const unmapped = await simulateCall(twilioUrl(server), {
    provider: 'twilio',
    headers,
    accountSid: 'AC-stranger',
    chunks: 4,
  });
  assert.equal(unmapped.result.close.code, 1008);
  assert.ok(
    !memory(server)
      .records()
      .some((r) => r.interaction_id === unmapped.call.callSid),
  );
});

test('4.2 a socket closed without stop ends every track with client_closed after flushing', async (t) => {
  const server = await startTestServer(t, { ...TWILIO_ENV, BUFFER_DURATION_MS: '30000' });
  const { call } = await simulateCall(twilioUrl(server), {
    provider: 'twilio',
    headers: { 'X-Twilio-Signature': signature(PUBLIC_URL) },
    tracks: ['inbound', 'outbound'],
    chunks: 10,
    stop: false,
  });
  assertCallRecords(await whenCallEnded(memory(server), call), call, {
    tenant: 'tenant-t',
    reason: 'client_closed',
    encoding: 'mulaw',
  });
});

test('4.2 media for a track the start did not list is ignored and counted', async (t) => {
  const server = await startTestServer(t, TWILIO_ENV);
  const call = buildCall({ provider: 'twilio', chunks: 3 });
  const stray = {
    event: 'media',
    streamSid: call.streamSid,
    media: { track: 'outbound', chunk: '1', payload: Buffer.alloc(160).toString('base64') },
  };
  call.script.splice(3, 0, { body: stray, media: true });
  await playCall(twilioUrl(server), call, { headers: { 'X-Twilio-Signature': signature(PUBLIC_URL) } });
  assertCallRecords(await whenCallEnded(memory(server), call), call, {
    tenant: 'tenant-t',
    reason: 'stop',
    encoding: 'mulaw',
  });
  assert.equal(server.server.stats.telephonyIgnored.get('twilio|unknown_track'), 1);
});

test(
  '4.2 the Twilio dialect: camelCase ids, tracks named with or ' +
    'without _track, mu-law 8 kHz whatever mediaFormat says',
  () => {
    const event = twilioProtocol.translate({
      event: 'start',
      sequenceNumber: '1',
      streamSid: 'MZ1',
      start: {
        accountSid: 'AC1',
        streamSid: 'MZ1',
        callSid: 'CA1',
        tracks: ['inbound_track', 'outbound'],
        customParameters: { a: '1' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    assert.equal(event.kind, 'start');
    if (event.kind !== 'start') return;
    assert.deepEqual(event.start.tracks, [
      { track: 'inbound', streamId: 'MZ1:inbound' },
      { track: 'outbound', streamId: 'MZ1:outbound' },
    ]);
    assert.deepEqual(event.start.media, { encoding: 'mulaw', sample_rate: 8000, channels: 1 });
    assert.deepEqual(event.start.metadata, {
      call_sid: 'CA1',
      stream_sid: 'MZ1',
      account_sid: 'AC1',
      tracks: ['inbound', 'outbound'],
      custom_parameters: { a: '1' },
    });
    const noTracks = twilioProtocol.translate({ event: 'start', start: { streamSid: 'MZ2', callSid: 'CA2' } });
    assert.deepEqual(noTracks.kind === 'start' && noTracks.start.tracks, [
      { track: 'inbound', streamId: 'MZ2:inbound' },
    ]);
    assert.deepEqual(twilioProtocol.translate({ event: 'dtmf', dtmf: { track: 'inbound_track', digit: '9' } }), {
      kind: 'dtmf',
      track: 'inbound',
      digit: '9',
      durationMs: undefined,
    });
    assert.deepEqual(twilioProtocol.translate({ event: 'stop', stop: { accountSid: 'AC1', callSid: 'CA1' } }), {
      kind: 'stop',
      reason: undefined,
    });
  },
);

test(
  '4.2 a track that pauses is not closed for idleness while ' + 'another track of the socket still streams',
  async (t) => {
    const server = await startTestServer(t, { ...TWILIO_ENV, IDLE_TIMEOUT_MS: '300' });
    const call = buildCall({ provider: 'twilio', tracks: ['inbound', 'outbound'], chunks: 40 });
    // The outbound track sends its first chunk only; the inbound one streams for 800 ms.
    call.script.splice(
      0,
      call.script.length,
      ...call.script.filter((m) => {
        const media = (m.body as { media?: { track: string; chunk: string } }).media;
        return !media || media.track === 'inbound' || media.chunk === '1';
      }),
    );
    const { close } = await playCall(twilioUrl(server), call, {
      headers: { 'X-Twilio-Signature': signature(PUBLIC_URL) },
      cadenceMs: 20,
    });
    assert.equal(close.code, 1000);
    const records = await whenCallEnded(memory(server), call);
    for (const track of ['inbound', 'outbound']) {
      const ended = trackRecords(records, call, track).at(-1)!;
      assert.equal(field(ended, 'reason'), 'stop', `${track} ended by stop, not idle`);
      assert.equal(field(ended, 'frames'), track === 'inbound' ? '40' : '1');
    }
  },
);

test('4.2 a start opens at most the two Twilio tracks: unknown and repeated names open no session', async (t) => {
  const server = await startTestServer(t, TWILIO_ENV);
  const call = buildCall({ provider: 'twilio', tracks: ['inbound', 'outbound'], chunks: 3 });
  const start = (call.script[1].body as { start: { tracks: unknown[] } }).start;
  // One 40 KB message once made 5,000 sessions.
  start.tracks = [...Array.from({ length: 5000 }, (_, i) => `t${i}`), 'inbound_track', 'outbound', 'inbound', 7];
  await playCall(twilioUrl(server), call, { headers: { 'X-Twilio-Signature': signature(PUBLIC_URL) } });
  const records = await whenCallEnded(memory(server), call);
  assert.equal(records.filter((r) => field(r, 'type') === 'stream_started').length, 2, 'inbound and outbound only');
  const started = memory(server)
    .records()
    .filter((r: IngestRecord): r is StreamStartedRecord => r.type === 'stream_started');
  assert.deepEqual(started[0].metadata.tracks, ['inbound', 'outbound']);
  assert.equal(server.server.stats.telephonyStartTrimmed.get('twilio|tracks'), 1);
});

test('4.2 the Twilio dialect keeps inbound and outbound once each, and says it left the rest out', () => {
  const event = twilioProtocol.translate({
    event: 'start',
    start: { callSid: 'CA1', streamSid: 'MZ1', tracks: ['outbound_track', 'inbound', 'inbound', 'both', null] },
  });
  assert.ok(event.kind === 'start');
  assert.deepEqual(
    event.start.tracks.map((s) => s.track),
    ['outbound', 'inbound'],
  );
  assert.deepEqual(event.start.trimmed, ['tracks']);
});
