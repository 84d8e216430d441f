/**
 * CPU time of processes from /proc/<pid>/stat, to say where a run's CPU went:
 * the service (primary, live workers, and the workers it has reaped, which
 * the kernel adds to the primary's children's time) against the generator.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime (+ cutime + cstime when `withReapedChildren`) in seconds; 0 when the process is gone. */
export function cpuSeconds(pid: number, withReapedChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), counted from field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i]));
    const own = utime + stime;
    return (withReapedChildren ? own + cutime + cstime : own) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The whole service's CPU seconds so far: the primary, its reaped workers and its live ones. */
export function serviceCpuSeconds(primaryPid: number | undefined, workerPids: readonly number[]): number {
  if (primaryPid === undefined) return 0;
  return cpuSeconds(primaryPid, true) + workerPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}
