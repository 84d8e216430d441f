/**
 * The browser demo in headless Chromium against the built service with the
 * Redis backend: the page streams a WAV file and the (fake) microphone through
 * its AudioWorklet and @ingest/client's browser build, and Redis ends up
 * holding exactly what the page sent; for a 16 kHz file, exactly the file's
 * PCM. A worker killed mid-stream costs a reconnect and nothing else. The
 * page's screenshot after the file run is kept at artifacts/browser-demo.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { DemoServer } from '../../src/client/demo/demo-server';
import { parseWav } from '../../src/client/loadgen/wav-file';
import { launchChromium } from '../support/chromium';
import { readyWorkerPids } from '../support/cluster';
import { field } from '../support/field-map';
import { readStream } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { REPO_ROOT } from '../support/repo-root';
import { assertAudioCovers, byInteraction } from '../support/stream-check';
import { tonePcm, writeWav } from '../support/wav-writer';

const ARTIFACTS = path.join(REPO_ROOT, 'artifacts');
const FRAME_BYTES = 640; // 20 ms at 16 kHz, 16-bit mono
const TENANT = 'tenant-a';

/** window.demo.state, as the page shows it. */
interface DemoState {
  state: string;
  error: string | null;
  sent: number;
  sentBytes: number;
  acked: number;
  committed: number;
  reconnects: number;
  sourceRate: number | null;
  contextRate: number | null;
  maxPeakDb: number;
  stopped: { lastSeq: number; frames: number } | null;
}

interface Demo {
  readonly redis: RedisCluster;
  readonly page: Page;
  /** What the page logged and threw, for failure messages. */
  readonly console: string[];
}

/** A 16 kHz mono WAV of a 440 Hz tone, written to a temporary file; its PCM returned. */
function toneWav(t: TestContext, seconds: number): { file: string; pcm: Buffer } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'browser-demo-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tone-16k.wav');
  writeWav(file, tonePcm(seconds, 16000, 440), 16000);
  return { file, pcm: parseWav(fs.readFileSync(file)).data };
}

/** The built service on Redis (one worker, so "the serving worker" is known), the demo server, the page. */
async function openDemo(t: TestContext, label: string, fakeMicrophoneWav?: string): Promise<Demo> {
  const redis = await startRedisCluster(t, label, { WORKERS: '1' });
  const server = new DemoServer({ serviceUrl: redis.url, token: () => redis.sign({ tenant_id: TENANT }) });
  t.after(() => server.close());
  const pageUrl = await server.start();
  const browser = await launchChromium(t, fakeMicrophoneWav ? { fakeMicrophoneWav } : {});
  const page = await browser.newPage();
  const console: string[] = [];
  page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (err) => console.push(`page error: ${err.message}`));
  await page.goto(`${pageUrl}?record=1`);
  const demo = { redis, page, console };
  await waitFor(demo, 'the page to load', "window.demo?.state.state === 'idle'");
  return demo;
}

async function state(page: Page): Promise<DemoState> {
  return page.evaluate<DemoState>('window.demo.state');
}

/** Waits for a condition on the page, failing with the page's state and console when it does not come. */
async function waitFor(demo: Demo, what: string, condition: string, timeoutMs = 30_000): Promise<void> {
  try {
    await demo.page.waitForFunction(condition, undefined, { timeout: timeoutMs, polling: 50 });
  } catch (err) {
    const shown = await state(demo.page).catch(() => 'unreadable');
    throw new Error(
      `waiting for ${what}: ${(err as Error).message}\nstate: ${JSON.stringify(shown)}\n${demo.console.join('\n')}`,
    );
  }
}

/** Waits until the page's stream ended; asserts it ended well, every frame sent committed. */
async function waitUntilDone(demo: Demo): Promise<DemoState> {
  await waitFor(demo, 'the stream to end', "['done', 'error'].includes(window.demo.state.state)", 60_000);
  const shown = await state(demo.page);
  assert.equal(shown.state, 'done', `the page says ${shown.state}: ${shown.error}\n${demo.console.join('\n')}`);
  assert.ok(shown.sent > 0, 'frames were sent');
  assert.equal(shown.committed, shown.sent, 'committed == sent (first seq 1)');
  assert.deepEqual(shown.stopped, { lastSeq: shown.sent, frames: shown.sent });
  return shown;
}

async function startStream(demo: Demo, interactionId: string, button: '#start-file' | '#start-mic'): Promise<void> {
  await demo.page.fill('#interaction-id', interactionId);
  await demo.page.click(button);
}

/** What the page says it sent, byte for byte (?record=1). */
async function sentPcm(page: Page): Promise<Buffer> {
  return Buffer.from(await page.evaluate<string>('window.demo.sentPcmBase64()'), 'base64');
}

/** Asserts Redis holds `pcm` for the stream: the page's 640-byte frames from seq 1, once each, in order. */
async function assertStored(redis: RedisCluster, interactionId: string, pcm: Buffer, sent: number): Promise<void> {
  const records = byInteraction(await readStream(redis.admin, redis.streamKey)).get(interactionId);
  assert.ok(records, `${interactionId} has records in Redis`);
  const frames: Buffer[] = [];
  for (let at = 0; at < pcm.length; at += FRAME_BYTES) frames.push(pcm.subarray(at, at + FRAME_BYTES));
  assert.equal(frames.length, sent, 'the page counted the frames it recorded');
  assertAudioCovers(records, { interactionId, tenantId: TENANT, frames, firstSeq: 1 }, sent);
  const audio = records.filter((r) => field(r, 'type') === 'audio');
  assert.ok(Buffer.concat(audio.map((r) => r.get('payload')!)).equals(pcm), 'the stored audio is the PCM sent');
  for (const r of audio) assert.equal(field(r, 'sample_rate'), '16000');
  assert.equal(field(records.at(-1)!, 'type'), 'stream_ended');
}

/** Keeps the page's picture as a test artefact; checks it is a PNG with something in it. */
async function keepScreenshot(t: TestContext, page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  const png = fs.readFileSync(file);
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG');
  assert.ok(png.length > 5000, `the screenshot has content (${png.length} bytes)`);
  t.diagnostic(`screenshot: ${file}`);
}

test('a 16 kHz WAV file streamed by the page lands in Redis byte for byte; all of it counted committed', async (t) => {
  const wav = toneWav(t, 3);
  const demo = await openDemo(t, 'browser-file');
  await demo.page.setInputFiles('#wav-file', wav.file);
  await startStream(demo, 'browser-file', '#start-file');
  const shown = await waitUntilDone(demo);
  assert.equal(shown.sent, Math.ceil(wav.pcm.length / FRAME_BYTES));
  assert.equal(shown.sentBytes, wav.pcm.length);
  assert.deepEqual([shown.sourceRate, shown.contextRate], [16000, 16000]);
  const pcm = await sentPcm(demo.page);
  assert.ok(pcm.equals(wav.pcm), 'the page sent the WAV file PCM unchanged');
  await assertStored(demo.redis, 'browser-file', pcm, shown.sent);
  // The tone's peak, 10 006 of 32 768: -9.8 dBFS on the meter.
  assert.ok(Math.abs(shown.maxPeakDb - 20 * Math.log10(10_006 / 32_768)) < 0.01, `peak ${shown.maxPeakDb} dBFS`);
  await keepScreenshot(t, demo.page, 'browser-demo.png');
});

test('the microphone (a fake capture device playing the WAV) is resampled to 16 kHz and stored as sent', async (t) => {
  const wav = toneWav(t, 5);
  const demo = await openDemo(t, 'browser-mic', wav.file);
  await startStream(demo, 'browser-mic', '#start-mic');
  await waitFor(demo, '3 s of audio sent', 'window.demo.state.sent >= 150');
  await demo.page.click('#stop');
  const shown = await waitUntilDone(demo);
  const pcm = await sentPcm(demo.page);
  await assertStored(demo.redis, 'browser-mic', pcm, shown.sent);
  t.diagnostic(`microphone: ${shown.sourceRate} Hz track, ${shown.contextRate} Hz context, ${shown.sent} frames`);
  // The tone made it through both resamplings (Chromium's to the context rate, the worklet's to 16 kHz),
  // at about the file's level. Chromium's fake capture can skip audio when the machine is starved, which
  // puts a phase jump where it does: the median period between rising zero crossings (interpolated) is
  // blind to a few such jumps, where a count of crossings over a second is not.
  const samples = Array.from({ length: pcm.length / 2 }, (_, i) => pcm.readInt16LE(i * 2));
  const start = samples.findIndex((s) => Math.abs(s) > 5000) + 1600;
  assert.ok(start > 1600 && start + 16000 <= samples.length, `a second of tone after the onset (at ${start})`);
  const second = samples.slice(start, start + 16000);
  const rising: number[] = [];
  for (let i = 1; i < second.length; i++) {
    if (second[i - 1] < 0 && second[i] >= 0) rising.push(i - 1 + -second[i - 1] / (second[i] - second[i - 1]));
  }
  const periods = rising.slice(1).map((at, i) => at - rising[i]);
  const median = periods.sort((a, b) => a - b)[Math.floor(periods.length / 2)];
  assert.ok(Math.abs(16000 / median - 440) <= 5, `${(16000 / median).toFixed(1)} Hz`);
  const peak = Math.max(...second.map(Math.abs));
  assert.ok(peak > 8000 && peak < 12000, `peak ${peak}`);
});

test('the worker killed mid-stream: the page counts a reconnect, and Redis still holds the file exactly', async (t) => {
  const wav = toneWav(t, 4);
  const demo = await openDemo(t, 'browser-kill');
  await demo.page.setInputFiles('#wav-file', wav.file);
  await startStream(demo, 'browser-kill', '#start-file');
  await waitFor(demo, '1 s committed', 'window.demo.state.committed >= 50');
  const [worker] = readyWorkerPids(demo.redis.cluster);
  process.kill(worker, 'SIGKILL');
  const shown = await waitUntilDone(demo);
  assert.ok(shown.reconnects >= 1, `reconnects ${shown.reconnects}`);
  const pcm = await sentPcm(demo.page);
  assert.ok(pcm.equals(wav.pcm), 'the page sent the WAV file PCM unchanged');
  await assertStored(demo.redis, 'browser-kill', pcm, shown.sent);
  await keepScreenshot(t, demo.page, 'browser-demo-reconnect.png');
});
