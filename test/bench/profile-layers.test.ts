import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layerOf, summarize, windowNote, windowOfLog, type CpuProfile } from '../../bench/profile-layers';

test('samples are put in the layer of their function', () => {
  const of = (functionName: string, url: string): string => layerOf({ functionName, url }).layer;
  assert.equal(of('(garbage collector)', ''), 'V8 garbage collector');
  assert.equal(of('writev', ''), 'socket writes');
  assert.equal(of('getData', 'file:///app/node_modules/ws/lib/receiver.js'), 'ws');
  assert.equal(of('sendCommand', 'file:///app/node_modules/ioredis/built/Redis.js'), 'ioredis');
  assert.equal(of('onStreamRead', 'node:internal/stream_base_commons'), 'Node.js core (net, streams, events, timers)');
  assert.equal(of('add', 'file:///app/dist/src/worker/stream/frame-buffer.js'), 'service: worker/stream');
  assert.equal(of('createLogger', 'file:///app/dist/src/shared/process/logger.js'), 'service: shared/process');
  assert.equal(of('x', 'file:///app/dist/src/shared/protocol.js'), 'service: shared');
  assert.equal(of('frame', 'file:///app/dist/bench/reference/pipeline-stream.js'), 'reference server');
});

test('busy time leaves idle out and adds each sample to its layer and own function', () => {
  const profile: CpuProfile = {
    startTime: 1_000,
    nodes: [
      { id: 1, callFrame: { functionName: '(idle)', url: '' } },
      { id: 2, callFrame: { functionName: 'add', url: 'file:///app/dist/src/worker/stream/frame-buffer.js' } },
      { id: 3, callFrame: { functionName: '(garbage collector)', url: '' } },
    ],
    samples: [1, 2, 3, 2],
    timeDeltas: [500, 100, 50, 100],
  };
  const summary = summarize([profile, profile]);
  assert.equal(summary.busyMicros, 500);
  assert.deepEqual(summary.layers, [
    ['service: worker/stream', 400],
    ['V8 garbage collector', 100],
  ]);
  assert.deepEqual(summary.ownFunctions, [['add stream/frame-buffer.js', 400]]);
});

test('with a window, only the samples taken inside it count', () => {
  const profile: CpuProfile = {
    startTime: 1_000,
    nodes: [
      { id: 1, callFrame: { functionName: 'writev', url: '' } },
      { id: 2, callFrame: { functionName: '(garbage collector)', url: '' } },
    ],
    // Taken at 1100, 1200, 1300 and 1400 µs.
    samples: [1, 2, 1, 2],
    timeDeltas: [100, 100, 100, 100],
  };
  const summary = summarize([profile], { fromMicros: 1_150, toMicros: 1_300 });
  assert.equal(summary.busyMicros, 200);
  assert.deepEqual(summary.layers, [
    ['V8 garbage collector', 100],
    ['socket writes', 100],
  ]);
});

test('the window the benchmark notes in a server log is read back, in microseconds', () => {
  const log = [
    '{"msg":"worker ready"}',
    windowNote('measuring', 5_000_123_456n),
    'some other line',
    windowNote('measured', 15_000_000_999n),
  ].join('\n');
  assert.deepEqual(windowOfLog(log), { fromMicros: 5_000_123, toMicros: 15_000_000 });
  assert.equal(windowOfLog(windowNote('measuring', 1n)), undefined);
});
