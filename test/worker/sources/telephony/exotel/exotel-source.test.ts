/**
 * Exotel streams on a real server (protocol.md 4.1), played by the provider
 * simulator: what reaches the backend is byte-exact what was sent, numbered by
 * chunk, with dtmf and mark records in their place, whatever the casing,
 * number style, frame type or sample rate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemoryPublisher } from '../../../../../src/shared/publishing/in-memory/in-memory-publisher';
import type { IngestRecord, StreamStartedRecord } from '../../../../../src/shared/publishing/records';
import { exotelProtocol } from '../../../../../src/worker/sources/telephony/exotel/exotel-source';
import { createWorkerMetrics } from '../../../../../src/worker/metrics/worker-metrics';
import { startTestServer, type TestServer } from '../../../../support/ingest-server';
import { field } from '../../../../support/field-map';
import { assertCallRecords, trackRecords, whenCallEnded } from '../../../../support/telephony-check';
import {
  buildCall,
  connectProvider,
  playCall,
  simulateCall,
  type SimulatorOptions,
} from '../../../../support/telephony-simulator';
import { memoryPublisher as memory } from '../../../../support/in-memory-records';

const EXOTEL_ENV = { SUPPORT_EXOTEL: 'true', EXOTEL_BASIC_AUTH: 'exo:s3cret=tenant-x' };

/** Resolves once a record matching `predicate` is published (or already was). */
function whenRecord(publisher: InMemoryPublisher, predicate: (r: IngestRecord) => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (publisher.records().some(predicate)) return resolve();
    const off = publisher.onRecord((r) => {
      if (!predicate(r)) return;
      off();
      resolve();
    });
  });
}

function exotelUrl(server: TestServer, path = '/v1/exotel', query = ''): string {
  return `ws://exo:s3cret@127.0.0.1:${server.port}${path}${query}`;
}

const SCRIPTED: SimulatorOptions = {
  chunks: 40,
  dtmf: [
    { afterChunk: 10, digit: '5', durationMs: 100 },
    { afterChunk: 25, digit: '#' },
  ],
  marks: [{ afterChunk: 25, name: 'turn-1-end' }],
  customParameters: { key1: 'value1', lang: 'hi' },
};

const VARIANTS: ReadonlyArray<{ name: string; options: SimulatorOptions; rateIn: 'media_format' | 'url' }> = [
  {
    name: 'snake_case, string numbers, text frames',
    options: { casing: 'snake', stringNumbers: true, binaryJson: false },
    rateIn: 'media_format',
  },
  {
    name: 'camelCase, numeric fields, JSON in binary frames',
    options: { casing: 'camel', stringNumbers: false, binaryJson: true },
    rateIn: 'url',
  },
];

for (const rate of [8000, 16000, 24000]) {
  for (const variant of VARIANTS) {
    test(
      `4.1 an Exotel call at ${rate} Hz (${variant.name}, rate from ${variant.rateIn}) ` +
        'reaches the backend byte-exact, ' +
        'seq = chunk numbers, dtmf and mark in place, stop:<reason>',
      async (t) => {
        const server = await startTestServer(t, EXOTEL_ENV);
        const options = {
          ...SCRIPTED,
          ...variant.options,
          ...(variant.rateIn === 'media_format' ? { sampleRate: rate } : {}),
        };
        const url = exotelUrl(server, '/v1/exotel', variant.rateIn === 'url' ? `?sample-rate=${rate}` : '');
        const { call, result } = await simulateCall(url, options);
        assert.equal(result.close.code, 1000, 'the server closes 1000 once everything is published');
        assert.equal(result.received, 0, 'the server sends nothing to Exotel');
        const records = await whenCallEnded(memory(server), call);
        assertCallRecords(records, call, { tenant: 'tenant-x', reason: 'stop:callended', sampleRate: rate });
      },
    );
  }
}

test(
  '4.1 the sample rate comes from media_format (with a unit ' +
    'suffix), else the sample-rate URL parameter, else 8000',
  async (t) => {
    const server = await startTestServer(t, EXOTEL_ENV);
    const cases: Array<[string, SimulatorOptions, number]> = [
      ['?sample-rate=16000', { sampleRate: 24000 }, 24000],
      ['?sample_rate=16000', {}, 16000],
      ['?sample-rate=11025', {}, 8000],
      ['', {}, 8000],
    ];
    for (const [query, options, want] of cases) {
      const call = buildCall({ chunks: 3, ...options });
      if (options.sampleRate !== undefined) {
        const start = call.script[1].body as { start: { media_format: Record<string, unknown> } };
        start.start.media_format.sample_rate = `${options.sampleRate}Hz`;
      }
      await playCall(exotelUrl(server, '/v1/exotel', query), call);
      const records = await whenCallEnded(memory(server), call);
      assertCallRecords(records, call, { tenant: 'tenant-x', reason: 'stop:callended', sampleRate: want });
    }
  },
);

test('4.1 mu-law and a-law payloads are published as they came, and the records say the encoding', async (t) => {
  const server = await startTestServer(t, EXOTEL_ENV);
  for (const [name, encoding] of [
    ['audio/x-mulaw', 'mulaw'],
    ['PCMU', 'mulaw'],
    ['alaw', 'alaw'],
  ] as const) {
    // 161 bytes: whole one-byte samples, an odd count PCM16 would refuse.
    const { call } = await simulateCall(exotelUrl(server), { chunks: 5, chunkBytes: 161, encoding: name });
    assertCallRecords(await whenCallEnded(memory(server), call), call, {
      tenant: 'tenant-x',
      reason: 'stop:callended',
      encoding,
    });
  }
});

test('4.1 a socket closed without stop still flushes everything, then stream_ended says client_closed', async (t) => {
  const server = await startTestServer(t, { ...EXOTEL_ENV, BUFFER_DURATION_MS: '30000' });
  for (const end of ['close', 'terminate'] as const) {
    const { call } = await simulateCall(exotelUrl(server), { ...SCRIPTED, stop: false, end });
    assertCallRecords(await whenCallEnded(memory(server), call), call, { tenant: 'tenant-x', reason: 'client_closed' });
  }
});

test(
  '4.1 invalid payloads (not base64, padding bits set, not whole samples, ' +
    'missing) are counted, logged with the stream ids, and skipped',
  async (t) => {
    const server = await startTestServer(t, EXOTEL_ENV);
    const call = buildCall({ chunks: 12 });
    const media = (chunk: number) =>
      (
        call.script.find((m) => m.media && (m.body as { media: { chunk: string } }).media.chunk === String(chunk))!
          .body as { media: Record<string, unknown> }
      ).media;
    media(3).payload = '!!not base64!!';
    media(4).payload = 'QR=='; // decodes to "A", but is not what "A" encodes to
    media(5).payload = Buffer.from([1, 2, 3]).toString('base64'); // 3 bytes: not whole 16-bit samples
    delete media(6).payload;
    const result = await playCall(exotelUrl(server), call);
    assert.equal(result.close.code, 1000);
    const records = (await whenCallEnded(memory(server), call)).filter(
      (r) => field(r, 'interaction_id') === call.callSid,
    );
    const audio = records.filter((r) => field(r, 'type') === 'audio');
    const kept = [1, 2, 7, 8, 9, 10, 11, 12].map((chunk) => call.tracks.get('')!.chunks[chunk - 1]);
    assert.ok(
      Buffer.concat(audio.map((r) => r.get('payload')!)).equals(Buffer.concat(kept)),
      'only the valid chunks, nothing else',
    );
    assert.equal(field(records.at(-1)!, 'frames'), '8');
    assert.equal(server.server.stats.invalidPayloads.get('exotel'), 4);
    const logged = server.logs.filter((l) => l.code === 'invalid_payload');
    assert.equal(logged.length, 1, 'the first invalid payload of a stream is logged (then every 100th)');
    assert.equal(logged[0].interaction_id, call.callSid);
    assert.equal(logged[0].stream_id, call.streamSid);
    assert.equal(logged[0].tenant_id, 'tenant-x');
    assert.equal(logged[0].chunk, 3);
  },
);

test(
  '4.1 duplicate chunk numbers are dropped and gaps are counted ' + 'in ingest_sequence_gaps_total{source="exotel"}',
  async (t) => {
    const server = await startTestServer(t, EXOTEL_ENV);
    const call = buildCall({ chunks: 10 });
    const mediaIndex = (chunk: number) =>
      call.script.findIndex((m) => m.media && (m.body as { media: { chunk: string } }).media.chunk === String(chunk));
    // 4 again, then 2 again
    call.script.splice(mediaIndex(4) + 1, 0, call.script[mediaIndex(4)], call.script[mediaIndex(2)]);
    call.script.splice(mediaIndex(7), 1); // chunk 7 never arrives
    await playCall(exotelUrl(server), call);
    const records = trackRecords(await whenCallEnded(memory(server), call), call, '');
    const audio = records.filter((r) => field(r, 'type') === 'audio');
    const chunks = call.tracks.get('')!.chunks;
    assert.ok(
      Buffer.concat(audio.map((r) => r.get('payload')!)).equals(
        Buffer.concat([...chunks.slice(0, 6), ...chunks.slice(7)]),
      ),
    );
    const seqs = audio.map((r) => [Number(field(r, 'seq_start')), Number(field(r, 'seq_end'))]);
    assert.deepEqual(
      seqs.flat().filter((s) => s === 7),
      [],
      'seq 7 is in no record',
    );
    assert.equal(field(records.at(-1)!, 'last_seq'), '10');
    assert.equal(field(records.at(-1)!, 'frames'), '9');
    assert.equal(server.server.stats.duplicateFrames, 2);
    const metrics = await createWorkerMetrics({ stats: server.server.stats, backlogBytes: () => 0 }).metrics();
    assert.match(metrics, /^ingest_sequence_gaps_total\{source="exotel"\} 1$/m);
    assert.match(metrics, /^ingest_duplicate_frames_total 2$/m);
  },
);

test('4.1 media without chunk numbers is numbered by count', async (t) => {
  const server = await startTestServer(t, EXOTEL_ENV);
  const call = buildCall({ chunks: 6, stringNumbers: false });
  for (const m of call.script) if (m.media) delete (m.body as { media: Record<string, unknown> }).media.chunk;
  await playCall(exotelUrl(server), call);
  assertCallRecords(await whenCallEnded(memory(server), call), call, { tenant: 'tenant-x', reason: 'stop:callended' });
});

test(
  '4.1 unknown events, non-JSON text and binary audio frames are ' + 'ignored and counted; media before start too',
  async (t) => {
    const server = await startTestServer(t, EXOTEL_ENV);
    const call = buildCall({ chunks: 4 });
    const early = call.script.find((m) => m.media)!;
    call.script.splice(
      1,
      0,
      early,
      { body: 'not json' },
      { body: Buffer.alloc(320, 7) },
      { body: { event: 'clear', stream_sid: call.streamSid } },
    );
    await playCall(exotelUrl(server), call);
    assertCallRecords(await whenCallEnded(memory(server), call), call, {
      tenant: 'tenant-x',
      reason: 'stop:callended',
    });
    const ignored = server.server.stats.telephonyIgnored;
    assert.equal(ignored.get('exotel|before_start'), 1);
    assert.equal(ignored.get('exotel|invalid_json'), 1);
    assert.equal(ignored.get('exotel|binary_frame'), 1);
    assert.equal(ignored.get('exotel|unknown_event'), 1);
  },
);

test('4.1 a start without call_sid closes the stream with 1008 and publishes nothing', async (t) => {
  const server = await startTestServer(t, EXOTEL_ENV);
  const call = buildCall({ chunks: 2 });
  const start = call.script[1].body as { start: Record<string, unknown> };
  delete start.start.call_sid;
  const { close } = await playCall(exotelUrl(server), call);
  assert.equal(close.code, 1008);
  assert.match(close.reason, /call_sid/);
  assert.equal(memory(server).records().length, 0);
});

test('4.1 the Exotel dialect reads ids inside start or at the top level, in either casing, and lenient numbers', () => {
  const protocol = exotelProtocol(16000);
  const event = protocol.translate({
    event: 'start',
    streamSid: 'S1',
    start: {
      callSid: 'C1',
      accountSid: 'A1',
      mediaFormat: { encoding: 'linear16', sampleRate: '8kHz', bitRate: '128kbps' },
      customParameters: { a: 'b' },
    },
  });
  assert.equal(event.kind, 'start');
  if (event.kind !== 'start') return;
  assert.equal(event.start.callSid, 'C1');
  assert.equal(event.start.accountSid, 'A1');
  assert.deepEqual(event.start.tracks, [{ track: '', streamId: 'S1' }]);
  assert.deepEqual(event.start.media, { encoding: 'pcm_s16le', sample_rate: 8000, channels: 1 });
  assert.deepEqual(event.start.metadata, {
    call_sid: 'C1',
    stream_sid: 'S1',
    account_sid: 'A1',
    custom_parameters: { a: 'b' },
  });
  const fromUrl = protocol.translate({
    event: 'start',
    start: { stream_sid: 'S', call_sid: 'C', media_format: { encoding: 'audio/L16;rate=24000' } },
  });
  assert.equal(
    fromUrl.kind === 'start' && fromUrl.start.media.sample_rate,
    24000,
    'a rate= parameter of the encoding counts as media_format',
  );
  const urlOnly = protocol.translate({ event: 'start', start: { stream_sid: 'S', call_sid: 'C' } });
  assert.equal(urlOnly.kind === 'start' && urlOnly.start.media.sample_rate, 16000);
  assert.deepEqual(protocol.translate({ event: 'media', media: { chunk: '7', payload: 'AAA=' } }), {
    kind: 'media',
    track: undefined,
    chunk: 7,
    payload: 'AAA=',
  });
  assert.deepEqual(protocol.translate({ event: 'dtmf', dtmf: { digit: 5, duration: '100ms' } }), {
    kind: 'dtmf',
    track: undefined,
    digit: '5',
    durationMs: 100,
  });
  assert.deepEqual(protocol.translate({ event: 'stop', stop: { reason: 'stopped' } }), {
    kind: 'stop',
    reason: 'stopped',
  });
  assert.equal(protocol.translate({ event: 'dtmf', dtmf: {} }).kind, 'ignored');
});

test('4.1 nothing is sent to Exotel, not even pings, while native streams on the same server are pinged', async (t) => {
  // Long enough that a loaded machine still answers each ping before the next one.
  const server = await startTestServer(t, { ...EXOTEL_ENV, PING_INTERVAL_MS: '200' });
  const exotel = await connectProvider(exotelUrl(server));
  t.after(() => exotel.terminate());
  let exotelPings = 0;
  exotel.on('ping', () => exotelPings++);
  const call = buildCall({ chunks: 2, stop: false });
  for (const m of call.script) exotel.send(JSON.stringify(m.body));
  await whenRecord(memory(server), (r) => r.type === 'stream_started');
  const native = await server.connect();
  await native.start({ interactionId: 'native-beside-exotel' });
  // Two heartbeats have passed over every session once the native client saw two pings.
  await new Promise<void>((resolve) => {
    let pings = 0;
    native.ws.on('ping', () => ++pings === 2 && resolve());
  });
  assert.equal(exotelPings, 0);
});

test('4.1 a shutdown flushes an Exotel stream, ends it with shutdown and closes 1001', async (t) => {
  const server = await startTestServer(t, { ...EXOTEL_ENV, BUFFER_DURATION_MS: '30000' });
  const call = buildCall({ chunks: 20, marks: [{ afterChunk: 20, name: 'all-sent' }], stop: false });
  const playing = playCall(exotelUrl(server), call, { end: 'wait_for_server' });
  await whenRecord(memory(server), (r) => r.type === 'mark');
  await server.server.close();
  const { close } = await playing;
  assert.equal(close.code, 1001);
  assertCallRecords(await whenCallEnded(memory(server), call), call, { tenant: 'tenant-x', reason: 'shutdown' });
});

test('4.1 a connection that sends no start within START_TIMEOUT_MS is closed with 1008', async (t) => {
  const server = await startTestServer(t, { ...EXOTEL_ENV, START_TIMEOUT_MS: '50' });
  const ws = await connectProvider(exotelUrl(server));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send(JSON.stringify({ event: 'connected' }));
  assert.equal(await closed, 1008);
  assert.ok(server.logs.some((l) => l.code === 'start_timeout'));
});

test('4.1 every text field of a start is bounded: long fields cut to 256 characters, metadata to 4 KiB', async (t) => {
  const server = await startTestServer(t, EXOTEL_ENV);
  const call = buildCall({
    chunks: 2,
    from: 'f'.repeat(50_000),
    to: '€'.repeat(300),
    customParameters: { big: 'c'.repeat(5000) },
  });
  await playCall(exotelUrl(server), call);
  await whenCallEnded(memory(server), call);
  const started = memory(server)
    .records()
    .find((r: IngestRecord): r is StreamStartedRecord => r.type === 'stream_started');
  assert.ok(started);
  const { metadata } = started;
  assert.deepEqual([String(metadata.from).length, [...String(metadata.to)].length], [256, 256]);
  assert.equal(metadata.custom_parameters, undefined);
  assert.equal(metadata.custom_parameters_dropped, true);
  assert.ok(Buffer.byteLength(JSON.stringify(metadata)) <= 4096);
  const trimmed = server.server.stats.telephonyStartTrimmed;
  assert.deepEqual([trimmed.get('exotel|text_field'), trimmed.get('exotel|custom_parameters')], [1, 1]);
});

test('4.1 a start whose stream_sid or account_sid is over 128 characters is refused with 1008', async (t) => {
  const server = await startTestServer(t, EXOTEL_ENV);
  const call = buildCall({ chunks: 2, streamSid: 's'.repeat(129) });
  const { close } = await playCall(exotelUrl(server), call);
  assert.equal(close.code, 1008);
  assert.match(close.reason, /stream_sid must be at most 128 characters/);
  assert.equal(memory(server).records().length, 0);
});
