/**
 * Debian's Chromium (/usr/bin/chromium) driven by playwright-core, headless,
 * with a fresh profile and the flags this machine needs: no network (without
 * them Chromium keeps trying Google's services and floods refused
 * connections), no GPU, and optionally the fake microphone playing a WAV file
 * once. A missing Chromium fails the test, naming the package to install.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const QUIET_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ChromiumOptions {
  /** A WAV file the fake capture device plays once (then silence), granted without a prompt. */
  readonly fakeMicrophoneWav?: string;
}

/** A headless browser context with its own profile, both gone after the test. */
export async function launchChromium(t: TestContext, options: ChromiumOptions = {}): Promise<BrowserContext> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: this test needs Debian's chromium package (apt-get install chromium)`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-chromium-'));
  const microphone = options.fakeMicrophoneWav
    ? [
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${options.fakeMicrophoneWav}%noloop`,
      ]
    : [];
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...QUIET_FLAGS, ...microphone],
    });
    t.after(async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    });
    return context;
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}
