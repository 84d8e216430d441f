/**
 * Runs the built `ingest-loadgen` as a user does (node dist/src/client/loadgen/
 * loadgen-cli.js) and collects its exit status, stderr and the --json report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { VerifySummary } from '../../../src/client/loadgen/frame-verifier';
import type { LoadgenReport } from '../../../src/client/loadgen/loadgen-report';
import { REPO_ROOT } from '../../support/repo-root';

export const LOADGEN_CLI = path.join(REPO_ROOT, 'dist', 'src', 'client', 'loadgen', 'loadgen-cli.js');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The last stdout line, parsed (with --json). */
  report(): LoadgenReport;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Resolves once stderr holds a line matching `pattern`. */
  waitForStderr(pattern: RegExp, what: string): Promise<void>;
  readonly done: Promise<CliRun>;
}

/** Starts the CLI; it is killed if still running after `timeoutMs`. */
export function startLoadgenCli(args: readonly string[], timeoutMs = 60_000): RunningCli {
  const child = spawn(process.execPath, [LOADGEN_CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    listeners.forEach((l) => l());
  });
  const done = new Promise<CliRun>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ingest-loadgen did not finish within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      listeners.forEach((l) => l());
      resolve({
        code,
        stdout,
        stderr,
        report: () => JSON.parse(stdout.trim().split('\n').pop() ?? '') as LoadgenReport,
      });
    });
  });
  const waitForStderr = (pattern: RegExp, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (stderr.split('\n').some((line) => pattern.test(line))) {
          listeners.delete(check);
          resolve();
        } else if (child.exitCode !== null) {
          listeners.delete(check);
          reject(new Error(`ingest-loadgen exited before ${what}; stderr:\n${stderr}`));
        }
      };
      listeners.add(check);
      check();
    });
  return { child, waitForStderr, done };
}

export function runLoadgenCli(args: readonly string[], timeoutMs = 60_000): Promise<CliRun> {
  return startLoadgenCli(args, timeoutMs).done;
}

/** The read-back's summary; throws if the report has none or says it failed. */
export function verifyOf(report: LoadgenReport): VerifySummary {
  const verify = report.verify;
  if (!verify || 'error' in verify) throw new Error(`no read-back summary: ${JSON.stringify(verify)}`);
  return verify;
}

/** Writes a private key where --private-key can read it; removed after the test. */
export function privateKeyFile(t: TestContext, key: KeyObject): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loadgen-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'key.pem');
  writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }));
  return file;
}
