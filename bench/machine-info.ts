/** The machine a benchmark ran on, for its report: the figures mean nothing without it. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  readonly cpuModel: string;
  /** Cores this process may use (os.availableParallelism: affinity and cgroup limits included). */
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly redis: string;
  /** The open-files limit the servers and the generator inherit (Node.js raises its soft limit to the hard one). */
  readonly openFiles: number;
}

/** Max open files of this process (/proc/self/limits), or Infinity when unknown or unlimited. */
export function openFilesLimit(): number {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : Infinity;
  } catch {
    return Infinity;
  }
}

function redisVersion(): string {
  try {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  let kernel = `${os.type()} ${os.release()}`;
  try {
    kernel = readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    // not Linux: the os module's answer stands
  }
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: os.totalmem() / 1024 ** 3,
    kernel,
    node: process.version,
    redis: redisVersion(),
    openFiles: openFilesLimit(),
  };
}
