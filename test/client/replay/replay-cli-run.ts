/**
 * Runs the built `ingest-replay` as a user does (node dist/src/client/replay/
 * replay-cli.js) into a fresh output folder, and reads back what it wrote: its
 * exit status, its lines, and each call's WAV and sidecar.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { parseWav, type WavAudio } from '../../../src/client/loadgen/wav-file';
import { REPO_ROOT } from '../../support/repo-root';

export const REPLAY_CLI = path.join(REPO_ROOT, 'dist', 'src', 'client', 'replay', 'replay-cli.js');

export interface ReplayOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The summary line of an interaction, as `key=value` pairs. */
  line(interactionId: string): Record<string, string>;
}

export interface RunningReplay {
  readonly child: ChildProcess;
  readonly out: string;
  /** Resolves once stdout has the summary line of `interactionId`. */
  waitForLine(interactionId: string): Promise<void>;
  /** Resolves once stderr says the run is following the backend (--follow). */
  following(): Promise<void>;
  readonly done: Promise<ReplayOutput>;
}

/** A fresh output folder, removed after the test. */
export function outputDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ingest-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function parseLine(stdout: string, interactionId: string): Record<string, string> {
  const line = stdout.split('\n').find((l) => l.split(' ')[0] === interactionId);
  if (!line) throw new Error(`no line for ${interactionId} in:\n${stdout}`);
  return Object.fromEntries(
    line
      .split(' ')
      .slice(1)
      .map((pair) => pair.split('=') as [string, string]),
  );
}

/** Starts the CLI with `--out` added; killed if still running after `timeoutMs`. */
export function startReplay(t: TestContext, args: readonly string[], timeoutMs = 60_000): RunningReplay {
  const out = outputDir(t);
  const child = spawn(process.execPath, [REPLAY_CLI, ...args, '--out', out], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
    listeners.forEach((l) => l());
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    listeners.forEach((l) => l());
  });
  const done = new Promise<ReplayOutput>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ingest-replay did not finish within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      listeners.forEach((l) => l());
      resolve({ code, stdout, stderr, line: (id) => parseLine(stdout, id) });
    });
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const waitFor = (found: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (found()) {
          listeners.delete(check);
          resolve();
        } else if (child.exitCode !== null) {
          listeners.delete(check);
          reject(new Error(`ingest-replay exited before ${what}; stderr:\n${stderr}`));
        }
      };
      listeners.add(check);
      check();
    });
  const waitForLine = (interactionId: string): Promise<void> =>
    waitFor(() => stdout.split('\n').some((l) => l.split(' ')[0] === interactionId), `writing ${interactionId}`);
  const following = (): Promise<void> => waitFor(() => /^ingest-replay: following /m.test(stderr), 'following');
  return { child, out, waitForLine, following, done };
}

/** Runs the CLI to its end. */
export async function runReplay(t: TestContext, args: readonly string[]): Promise<ReplayOutput & { out: string }> {
  const running = startReplay(t, args);
  return { ...(await running.done), out: running.out };
}

export function readCallWav(out: string, interactionId: string): WavAudio {
  return parseWav(readFileSync(path.join(out, `${interactionId}.wav`)), `${interactionId}.wav`);
}

export interface Sidecar {
  readonly interaction_id: string;
  readonly tenant_id: string;
  readonly source: string;
  readonly ended: boolean;
  readonly start_read: boolean;
  readonly part: number;
  readonly earlier_parts?: readonly string[];
  readonly streams: ReadonlyArray<{ stream: string; number: number; offset_ms: number; wav: string | null }>;
  readonly wav: string | null;
  readonly frames: number;
  readonly missing_frames: number;
  readonly duplicate_frames: number;
  readonly tracks: ReadonlyArray<{ track: string | null; channel: number | null; frames: number }>;
  readonly events: ReadonlyArray<{ type: string; digit?: string; name?: string; after_seq: number; at_ms: number }>;
  readonly gaps: ReadonlyArray<{ from_seq: number; to_seq: number; frames: number; leading?: true }>;
  readonly metadata: Record<string, Record<string, unknown>>;
}

export function readSidecar(out: string, interactionId: string): Sidecar {
  return JSON.parse(readFileSync(path.join(out, `${interactionId}.json`), 'utf8')) as Sidecar;
}

/** G.711 mu-law expansion written out from the standard here, apart from the consumer's own table. */
export function mulawSample(code: number): number {
  const u = ~code & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 7;
  const mantissa = u & 0x0f;
  const magnitude = ((2 * mantissa + 33) << (exponent + 2)) - 132;
  return sign ? -magnitude : magnitude;
}

/** Two mu-law tracks as the stereo 16-bit PCM they should become (left, right; the shorter padded). */
export function stereoPcm(left: Buffer, right: Buffer): Buffer {
  const n = Math.max(left.length, right.length);
  const out = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    out.writeInt16LE(i < left.length ? mulawSample(left[i]) : 0, i * 4);
    out.writeInt16LE(i < right.length ? mulawSample(right[i]) : 0, i * 4 + 2);
  }
  return out;
}
