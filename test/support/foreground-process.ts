/**
 * A tool the tests run in the foreground (HAProxy, nginx): its output kept for
 * error messages, killed after the test, and a failure to report once it
 * exits or cannot start (a missing binary reads as `missing`, so the test
 * fails saying which package to install, never skips).
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import type { TestContext } from 'node:test';

export interface ForegroundProcess {
  /** Why the process is no longer usable (it exited, or never started); undefined while it runs. */
  failure(): Error | undefined;
  /** Throws failure(), if any. */
  assertRunning(): void;
  /** What it wrote so far, stdout and stderr together. */
  output(): string;
}

export function startForeground(
  t: TestContext,
  name: string,
  args: readonly string[],
  missing: string,
  options: Pick<SpawnOptions, 'env'> = {},
): ForegroundProcess {
  const child = spawn(name, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  let failure: Error | undefined;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', (err) => {
    failure = (err as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(missing) : err;
  });
  child.once('exit', (code, signal) => {
    failure ??= new Error(`${name} exited (${code ?? signal}): ${output}`);
  });
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    failure: () => failure,
    assertRunning() {
      if (failure) throw failure;
    },
    output: () => output,
  };
}
