/**
 * Reading provider JSON (protocol.md 4.1): lenient about names, number styles
 * and frame types; strict about the audio payload.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bytesPerSample,
  counterField,
  decodePayload,
  encodingFromName,
  field,
  parseFrame,
  parseLenientNumber,
  rateFromName,
  stringField,
} from '../../../../src/worker/sources/telephony/telephony-message';

test('4.1 fields are found by their snake_case name or its camelCase twin', () => {
  assert.equal(field({ stream_sid: 'a' }, 'stream_sid'), 'a');
  assert.equal(field({ streamSid: 'b' }, 'stream_sid'), 'b');
  assert.equal(field({ stream_sid: 'a', streamSid: 'b' }, 'stream_sid'), 'a', 'the documented snake_case wins');
  assert.equal(field({ sequenceNumber: 3 }, 'sequence_number'), 3);
  assert.equal(field(undefined, 'x'), undefined);
  assert.equal(stringField({ digit: 5 }, 'digit'), '5', 'a number where a string was expected');
  assert.equal(stringField({ digit: '  ' }, 'digit'), undefined);
});

test('4.1 numbers may arrive as strings and with unit suffixes', () => {
  assert.equal(parseLenientNumber(8000), 8000);
  assert.equal(parseLenientNumber('8000'), 8000);
  assert.equal(parseLenientNumber(' 8000Hz '), 8000);
  assert.equal(parseLenientNumber('16 kHz'), 16000);
  assert.equal(parseLenientNumber('128kbps'), 128000);
  assert.equal(parseLenientNumber('100ms'), 100);
  assert.equal(parseLenientNumber('abc'), undefined);
  assert.equal(parseLenientNumber('8000 Hz extra'), undefined);
  assert.equal(parseLenientNumber(Number.NaN), undefined);
  assert.equal(parseLenientNumber(null), undefined);
  assert.equal(counterField({ chunk: '12' }, 'chunk'), 12);
  assert.equal(counterField({ chunk: '-1' }, 'chunk'), undefined);
  assert.equal(counterField({ chunk: '1.5' }, 'chunk'), undefined);
});

test('4.1 JSON is read from text frames and from binary frames that start with {', () => {
  assert.deepEqual(parseFrame(Buffer.from('{"event":"connected"}'), false), { event: 'connected' });
  assert.deepEqual(parseFrame(Buffer.from(' \n{"event":"stop"}'), true), { event: 'stop' });
  assert.equal(parseFrame(Buffer.from([0x7f, 0x00, 0x01]), true), 'binary_frame');
  assert.equal(parseFrame(Buffer.from('{"event":'), true), 'invalid_json');
  assert.equal(parseFrame(Buffer.from('[1,2]'), false), 'invalid_json');
  assert.equal(parseFrame(Buffer.from('hello'), false), 'invalid_json');
});

test('4.1 encodings: mu-law and a-law by any of their names, everything else is left to the default', () => {
  for (const name of ['mulaw', 'x-mulaw', 'audio/x-mulaw', 'audio/x-mulaw;rate=8000', 'PCMU', 'ulaw'])
    assert.equal(encodingFromName(name), 'mulaw', name);
  for (const name of ['alaw', 'audio/x-alaw', 'PCMA']) assert.equal(encodingFromName(name), 'alaw', name);
  for (const name of ['raw', 'audio/x-raw', 'linear16', 'base64', 'audio/L16;rate=16000'])
    assert.equal(encodingFromName(name), undefined, name);
  assert.equal(rateFromName('audio/L16;rate=16000'), 16000);
  assert.equal(rateFromName('raw'), undefined);
  assert.equal(bytesPerSample('pcm_s16le', 1), 2);
  assert.equal(bytesPerSample('pcm_s16le', 2), 4);
  assert.equal(bytesPerSample('mulaw', 1), 1);
});

test('4.1 payloads must be canonical base64 (padding optional) of whole samples', () => {
  const pcm = Buffer.from([1, 2, 3, 4, 5, 6]);
  const ok = decodePayload(pcm.toString('base64'), 2);
  assert.ok(ok.ok && ok.data.equals(pcm));
  const unpadded = decodePayload(Buffer.from([1, 2]).toString('base64').replace(/=+$/, ''), 2);
  assert.ok(unpadded.ok && unpadded.data.equals(Buffer.from([1, 2])), 'padding may be left out');
  const refused = (payload: unknown, sampleBytes = 2): string => {
    const result = decodePayload(payload, sampleBytes);
    assert.equal(result.ok, false, `${String(payload)} must be refused`);
    return result.ok ? '' : result.problem;
  };
  assert.match(refused('AQID'), /whole number of 2-byte samples/, '3 bytes of PCM16');
  assert.equal(decodePayload('AQID', 1).ok, true, '3 bytes of mu-law are whole samples');
  assert.match(refused('AQ ID'), /not valid base64/, 'whitespace');
  assert.match(refused('AQ-_'), /not valid base64/, 'base64url characters');
  assert.match(refused('AQI*'), /not valid base64/);
  assert.match(refused('QR=='), /not valid base64/, 'stray bits after the last byte');
  assert.match(refused('AQIDBA=='.replace('==', '=')), /not valid base64/, 'wrong padding');
  assert.match(refused(undefined), /missing/);
  assert.match(refused(42), /missing/);
});
