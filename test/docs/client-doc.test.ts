/**
 * The examples of docs/client.md, taken from the markdown (test/support/doc-examples.ts), run against the built
 * service with the Redis backend, with @ingest/client as an integrator installs it (`npm pack`ed into a scratch
 * project, `ws` linked beside it):
 * - `client-node`: run with node; the service's address, a token and a unique call id come in the environment
 *   variables it reads (INGEST_URL, INGEST_TOKEN, INTERACTION_ID). It must print the stop result, and Redis
 *   must hold its 250 frames of silence, once each, in order, and the stream's end.
 * - `client-browser`: the page, saved next to the project's node_modules and served with a `/token` endpoint by
 *   a tiny static server, opened in headless Chromium with the service's address in `?url=`; its button is
 *   clicked, its log must end with the stop result, and Redis must hold the 440 Hz tone the page computed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { launchChromium } from '../support/chromium';
import { docExample } from '../support/doc-examples';
import { entryFields, field } from '../support/field-map';
import { installPacked } from '../support/packed-package';
import { readStream } from '../support/redis';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster';
import { startStaticPageServer } from '../support/static-page-server';
import { assertAudioCovers, byInteraction, waitForStreamEnded, type SentStream } from '../support/stream-check';
import { uniqueName } from '../support/unique-name';

const DOC = 'docs/client.md';
const TENANT = 'tenant-a';
const FRAMES = 250; // both examples: 5 s of 20 ms frames at 8 kHz
const run = promisify(execFile);

/** Asserts Redis holds exactly `sent` for its call, ended by the client's stop. */
async function assertStored(service: RedisCluster, sent: SentStream): Promise<void> {
  const read = async (): Promise<Array<Map<string, Buffer>>> =>
    (await readStream(service.admin, service.streamKey)).map(entryFields);
  await waitForStreamEnded(read, sent.interactionId);
  const records = byInteraction(await readStream(service.admin, service.streamKey)).get(sent.interactionId) ?? [];
  assertAudioCovers(records, sent, sent.frames.length);
  const last = records.filter((r) => field(r, 'type') === 'audio').at(-1);
  assert.equal(last && Number(field(last, 'seq_end')), sent.frames.length, 'nothing past the last frame sent');
  const ended = records.at(-1);
  assert.ok(ended && field(ended, 'type') === 'stream_ended', 'the last record is stream_ended');
  assert.equal(field(ended, 'reason'), 'stop');
}

/** The frames the browser example computes: 20 ms of a 440 Hz tone at 8 kHz each, as int16 little-endian. */
function toneFrames(): Buffer[] {
  return Array.from({ length: FRAMES }, (_, n) => {
    const frame = new Int16Array(160);
    for (let i = 0; i < 160; i++) frame[i] = 8000 * Math.sin((2 * Math.PI * 440 * (n * 160 + i)) / 8000);
    return Buffer.from(frame.buffer);
  });
}

test('docs/client.md: its Node.js and browser examples stream their audio into Redis', async (t) => {
  const [service, project] = await Promise.all([
    startRedisCluster(t, 'doc-client', { WORKERS: '1' }),
    Promise.resolve(installPacked(t, ['client'], ['ws'])),
  ]);

  await t.test('client-node: 250 frames of silence, stopped once all are committed', async () => {
    const file = path.join(project.dir, 'stream-call.js');
    fs.writeFileSync(file, docExample(DOC, 'client-node').code);
    const interactionId = uniqueName('doc-client-node');
    const { stdout, stderr } = await run(process.execPath, [file], {
      cwd: project.dir,
      env: {
        ...process.env,
        INGEST_URL: service.url,
        INGEST_TOKEN: service.sign({ tenant_id: TENANT }),
        INTERACTION_ID: interactionId,
      },
      timeout: 30_000,
    });
    assert.equal(stdout, '{ lastSeq: 250, frames: 250 }\n', stderr);
    const silence = Array.from({ length: FRAMES }, () => Buffer.alloc(320));
    await assertStored(service, { interactionId, tenantId: TENANT, frames: silence, firstSeq: 1 });
  });

  await t.test('client-browser: the page streams 5 s of tone when its button is clicked', async (st) => {
    fs.writeFileSync(path.join(project.dir, 'index.html'), docExample(DOC, 'client-browser').code);
    const base = await startStaticPageServer(st, project.dir, () => service.sign({ tenant_id: TENANT }));
    const browser = await launchChromium(st);
    const page = await browser.newPage();
    const console: string[] = [];
    page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (err) => console.push(`page error: ${err.message}`));
    await page.goto(`${base}/index.html?url=${encodeURIComponent(service.url)}`);
    await page.click('#go');
    const log = (): Promise<string> => page.locator('#log').innerText();
    try {
      await page.waitForFunction(`document.getElementById('log').textContent.includes('"lastSeq":')`, undefined, {
        timeout: 30_000,
        polling: 50,
      });
    } catch (err) {
      throw new Error(`the page's stop result: ${(err as Error).message}\n${await log()}\n${console.join('\n')}`);
    }
    const lines = (await log()).trim().split('\n');
    assert.ok(lines.includes(JSON.stringify({ lastSeq: FRAMES, frames: FRAMES })), lines.join('\n'));
    const started = lines.map((line) => JSON.parse(line) as { type?: string }).filter((e) => e.type === 'started');
    assert.equal(started.length, 1, 'one connection, one started event');
    const calls = [...byInteraction(await readStream(service.admin, service.streamKey)).keys()];
    const ids = calls.filter((id) => /^call-\d+$/.test(id));
    assert.equal(ids.length, 1, `the page's call-<time> among ${calls.join(', ')}`);
    await assertStored(service, { interactionId: ids[0], tenantId: TENANT, frames: toneFrames(), firstSeq: 1 });
  });
});
