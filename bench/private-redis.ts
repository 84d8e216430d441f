/**
 * A redis-server of one measurement's own, on a free port, nothing saved
 * (`--save '' --appendonly no`), so that its CPU time (read from /proc like
 * the servers') is the records of that measurement and nothing else's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../test/support/free-port';

const READY_TIMEOUT_MS = 20_000;

export class PrivateRedis {
  private child: ChildProcess | undefined;
  private port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    const argv = ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no'];
    const child = spawn('redis-server', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server not ready in ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(new Error(`redis-server on port ${this.port} ${why}:\n${output}`));
      };
      child.once('error', (err) => fail(`could not start (${err.message})`));
      child.once('exit', (code) => fail(`exited (${code}) before it was ready`));
      const onData = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        if (!output.includes('Ready to accept connections')) return;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    });
  }

  /** SIGKILL (nothing is kept) and wait for the exit; idempotent. */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
