/**
 * CPU time and resident memory of a process tree, from /proc: the root and
 * its live descendants, found through /proc/<pid>/task/<tid>/children. A
 * process's CPU counts its own time (utime + stime) and that of the children
 * it has reaped (cutime + cstime), so a worker that exits between two
 * readings is still counted, once: a child is either live (its own time) or
 * reaped (in its parent's), never both.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** `pid`'s direct children (every thread's), or none when it is gone. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .split(' ')
        .filter((p) => p.trim() !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** The root and all its live descendants, root first. */
export function treePids(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (out.includes(pid)) continue;
    out.push(pid);
    queue.push(...childrenOf(pid));
  }
  return out;
}

/** The CPU fields of a /proc/<pid>/stat line, in ticks: [utime, stime, cutime, cstime]. */
export function parseStatTimes(stat: string): [number, number, number, number] {
  // The fields after the command name (which may hold spaces and parentheses), from field 3 (state) on.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [fields[11], fields[12], fields[13], fields[14]].map(Number) as [number, number, number, number];
}

/** CPU seconds of one process (own time, plus its reaped children's when asked); 0 when it is gone. */
export function processCpuSeconds(pid: number, withReaped = true): number {
  try {
    const [utime, stime, cutime, cstime] = parseStatTimes(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return (utime + stime + (withReaped ? cutime + cstime : 0)) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU seconds the tree under `root` has used so far (live processes and those they reaped). */
export function treeCpuSeconds(root: number): number {
  return treePids(root).reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
}

/** VmRSS of one process in KiB; 0 when it is gone (or a kernel thread). */
export function processRssKiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident memory of the whole tree in KiB. */
export function treeRssKiB(root: number): number {
  return treePids(root).reduce((sum, pid) => sum + processRssKiB(pid), 0);
}
