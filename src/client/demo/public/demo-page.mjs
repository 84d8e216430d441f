/**
 * The demo page: streams a WAV file or the microphone through the capture
 * worklet (16 kHz 16-bit PCM, 20 ms frames) with @ingest/client, and shows
 * what the client reports as it happens: frames sent, acked, committed,
 * reconnects, and the level of the last frame sent.
 *
 * File: decoded at the file's own rate (wav-format.mjs) and rendered through
 * the worklet in an OfflineAudioContext; frames are then sent at real-time
 * pace (one per 20 ms), as a call would send them. Microphone: getUserMedia
 * into an AudioContext at the device's rate, which the worklet resamples.
 *
 * For the browser test: `window.demo.state` is what the page shows, and with
 * `?record=1` the page keeps a copy of every frame it sent
 * (`window.demo.sentPcmBase64()`).
 */
import { IngestClient } from '@ingest/client';
import { FrameQueue } from './frame-queue.mjs';
import { wavFormat } from './wav-format.mjs';

const FRAME_MS = 20;
/** The microphone's frames held while sends wait: 10 s of audio (320 KB); past it frames are dropped. */
const LIVE_QUEUE_FRAMES = 500;
const MEDIA = { encoding: 'pcm_s16le', sampleRate: 16000, channels: 1 };
const RECORD = new URLSearchParams(location.search).get('record') === '1';
const WORKLET_OPTIONS = {
  numberOfInputs: 1,
  numberOfOutputs: 1,
  outputChannelCount: [1],
  // Stereo input is downmixed to mono as (L + R) / 2 by the node itself.
  channelCount: 1,
  channelCountMode: 'explicit',
  channelInterpretation: 'speakers',
};

const $ = (id) => document.getElementById(id);

/** One run's counters, all zero: the page's start and every new run begin from them. */
function freshRun(kind) {
  return {
    source: kind,
    sent: 0,
    sentBytes: 0,
    dropped: 0,
    acked: 0,
    committed: 0,
    reconnects: 0,
    sourceRate: null,
    contextRate: null,
    resampled: null,
    rmsDb: -Infinity,
    peakDb: -Infinity,
    maxPeakDb: -Infinity,
    stopped: null,
    error: null,
  };
}

/** What the page shows (and the test reads). */
const state = { state: 'loading', serviceUrl: null, interactionId: null, ...freshRun(null) };
const recorded = [];
let current = null;

window.demo = { state, sentPcmBase64 };

function sentPcmBase64() {
  let text = '';
  for (const frame of recorded)
    for (let i = 0; i < frame.length; i += 0x8000) {
      text += String.fromCharCode(...frame.subarray(i, i + 0x8000));
    }
  return btoa(text);
}

function log(text) {
  const item = document.createElement('li');
  item.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
  $('events').prepend(item);
  while ($('events').children.length > 12) $('events').lastChild.remove();
}

function render() {
  $('state').textContent = state.error ? `${state.state}: ${state.error}` : state.state;
  $('sent').textContent = `${state.sent} (${state.sentBytes} bytes)`;
  $('dropped').textContent = String(state.dropped);
  $('acked').textContent = String(state.acked);
  $('committed').textContent = String(state.committed);
  $('reconnects').textContent = String(state.reconnects);
  $('rates').textContent = state.contextRate
    ? `${state.source}: ${state.sourceRate ?? '?'} Hz source, ${state.contextRate} Hz context → 16000 Hz`
    : '–';
  const width = (db) => `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`;
  $('meter-rms').style.width = width(state.rmsDb);
  $('meter-peak').style.left = width(state.peakDb);
  const db = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-∞');
  $('level').textContent = `level: ${db(state.rmsDb)} dBFS RMS, ${db(state.peakDb)} dBFS peak`;
  const busy = current !== null;
  $('start-file').disabled = busy;
  $('start-mic').disabled = busy;
  $('stop').disabled = !busy;
}

function setState(name) {
  state.state = name;
  render();
}

async function fetchJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

/** The token provider: asked before every connection, so a resumed stream gets a fresh one. */
async function fetchToken() {
  return (await fetchJson('/token')).token;
}

function connectWorklet(node, queue) {
  node.port.onmessage = ({ data }) => {
    if (data.type === 'frame') {
      if (!queue.push(data)) {
        state.dropped = queue.dropped;
        render();
      }
    } else if (data.type === 'end') {
      state.resampled = { inputs: data.inputs, outputs: data.outputs };
      queue.end();
    }
  };
}

async function prepareFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const { sampleRate } = wavFormat(bytes);
  // Decoding at the file's own rate: decodeAudioData resamples to its context's rate.
  const audio = await new OfflineAudioContext(1, 1, sampleRate).decodeAudioData(bytes.buffer);
  state.sourceRate = sampleRate;
  state.contextRate = audio.sampleRate;
  let queue = null;
  return {
    async begin(frames) {
      queue = frames;
      const context = new OfflineAudioContext(1, audio.length, audio.sampleRate);
      await context.audioWorklet.addModule('/capture-worklet.mjs');
      const node = new AudioWorkletNode(context, 'pcm-capture', {
        ...WORKLET_OPTIONS,
        processorOptions: { totalFrames: audio.length },
      });
      connectWorklet(node, queue);
      const source = new AudioBufferSourceNode(context, { buffer: audio });
      source.connect(node).connect(context.destination);
      source.start(0);
      context.startRendering().catch((err) => {
        state.error = `rendering failed: ${err.message}`;
        queue.cancel();
      });
    },
    stop: () => queue?.cancel(),
    close: async () => {},
  };
}

async function prepareMicrophone() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  // The device's rate (often 48000): the worklet resamples it to 16000.
  const context = new AudioContext();
  await context.audioWorklet.addModule('/capture-worklet.mjs');
  const node = new AudioWorkletNode(context, 'pcm-capture', WORKLET_OPTIONS);
  const input = new MediaStreamAudioSourceNode(context, { mediaStream: stream });
  state.sourceRate = stream.getAudioTracks()[0]?.getSettings().sampleRate ?? null;
  state.contextRate = context.sampleRate;
  return {
    live: true,
    async begin(queue) {
      connectWorklet(node, queue);
      input.connect(node).connect(context.destination);
      await context.resume();
    },
    stop: () => node.port.postMessage({ type: 'flush' }),
    close: async () => {
      input.disconnect();
      node.disconnect();
      for (const track of stream.getTracks()) track.stop();
      await context.close();
    },
  };
}

function watch(client) {
  client.on('started', (e) => log(`started ${e.streamId} next_seq ${e.nextSeq}${e.resumed ? ' (resumed)' : ''}`));
  client.on('ack', (e) => {
    state.acked = e.seq;
    render();
  });
  client.on('committed', (e) => {
    state.committed = e.seq;
    render();
  });
  client.on('reconnecting', (e) => {
    log(`connection lost (${e.code} ${e.reason}); attempt ${e.attempt} in ${e.delayMs} ms`);
    render();
  });
  client.on('reconnected', (e) => {
    // Outages survived; the log shows each attempt.
    state.reconnects = client.stats.reconnects;
    log(`reconnected: next_seq ${e.nextSeq}, ${e.resent} frames sent again`);
    render();
  });
  client.on('closed', (e) => log(`closed ${e.code} ${e.reason}${e.error ? ` (${e.error.code})` : ''}`));
}

/** Sends every frame at real-time pace (a file renders much faster than it plays). */
async function sendAll(client, queue) {
  const start = performance.now();
  for await (const frame of queue) {
    const wait = start + state.sent * FRAME_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const bytes = new Uint8Array(frame.pcm);
    await client.send(bytes);
    if (RECORD) recorded.push(bytes);
    state.sent += 1;
    state.sentBytes += bytes.length;
    state.rmsDb = frame.rmsDb;
    state.peakDb = frame.peakDb;
    state.maxPeakDb = Math.max(state.maxPeakDb, frame.peakDb);
    render();
  }
}

function reset(kind) {
  Object.assign(state, freshRun(kind));
  recorded.length = 0;
  $('events').replaceChildren();
}

async function run(kind) {
  reset(kind);
  const session = { client: null, source: null };
  current = session;
  try {
    setState('preparing');
    if (kind === 'file') {
      const file = $('wav-file').files[0];
      if (!file) throw new Error('choose a WAV file first');
      session.source = await prepareFile(file);
    } else {
      session.source = await prepareMicrophone();
    }
    state.interactionId = $('interaction-id').value.trim();
    const client = new IngestClient({
      url: state.serviceUrl,
      token: fetchToken,
      interactionId: state.interactionId,
      media: MEDIA,
      whenFull: 'wait',
    });
    session.client = client;
    watch(client);
    setState('connecting');
    await client.start();
    setState('streaming');
    const queue = new FrameQueue(session.source.live ? LIVE_QUEUE_FRAMES : Infinity);
    await session.source.begin(queue);
    await sendAll(client, queue);
    setState('stopping');
    state.stopped = await client.stop();
    log(`stopped: last_seq ${state.stopped.lastSeq}, ${state.stopped.frames} frames`);
    setState('done');
  } catch (err) {
    state.error = err.code ? `${err.code}: ${err.message}` : err.message;
    session.client?.close();
    setState('error');
  } finally {
    await session.source?.close().catch(() => {});
    current = null;
    render();
  }
}

async function main() {
  const config = await fetchJson('/config.json');
  state.serviceUrl = config.serviceUrl;
  $('service-url').textContent = config.serviceUrl;
  $('interaction-id').value = `demo-${Date.now()}`;
  $('start-file').addEventListener('click', () => void run('file'));
  $('start-mic').addEventListener('click', () => void run('microphone'));
  $('stop').addEventListener('click', () => current?.source?.stop());
  setState('idle');
}

main().catch((err) => {
  state.error = err.message;
  setState('error');
});
