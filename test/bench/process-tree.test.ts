/**
 * The benchmark's /proc readings (bench/process-tree.ts) on a real process
 * tree: a parent whose child burns CPU. The tree's CPU must count the child,
 * and keep counting it once the parent has reaped it (once, not twice).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { parseStatTimes, processCpuSeconds, treeCpuSeconds, treePids, treeRssKiB } from '../../bench/process-tree';

/** A parent that starts a CPU-burning child, prints the child's pid, and stays until it is told to end. */
const PARENT = `
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
process.stdout.write(child.pid + '\\n');
child.on('exit', () => process.stdout.write('reaped\\n'));
process.stdin.on('data', () => child.kill('SIGKILL'));
process.stdin.on('end', () => process.exit(0));
`;

async function until<T>(check: () => T | undefined, what: string): Promise<T> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a stat line is read after the command name, whatever the name holds', () => {
  const fields = Array.from({ length: 20 }, (_, i) => String(i + 3)); // field 3 (state) onwards
  fields[11] = '150'; // utime (field 14)
  fields[12] = '50'; // stime
  fields[13] = '7'; // cutime
  fields[14] = '3'; // cstime
  assert.deepEqual(parseStatTimes(`4242 (node (a) b) ${fields.join(' ')}`), [150, 50, 7, 3]);
});

test("a tree's CPU counts its live descendants, and a reaped child once", async (t) => {
  const parent = spawn(process.execPath, ['-e', PARENT], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => parent.kill('SIGKILL'));
  let out = '';
  parent.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const childPid = await until(() => (/^(\d+)\n/.exec(out) ? Number(/^(\d+)\n/.exec(out)![1]) : undefined), 'a pid');
  const root = parent.pid!;
  assert.deepEqual(treePids(root), [root, childPid]);
  await until(() => (processCpuSeconds(childPid) >= 0.3 ? true : undefined), 'the child to burn 0.3 s');
  const live = treeCpuSeconds(root);
  assert.ok(live >= processCpuSeconds(childPid), `tree ${live} s counts the child`);
  assert.ok(treeRssKiB(root) > 10_000, 'two node processes hold more than 10 MB');

  parent.stdin.write('end the child\n');
  await until(() => (out.includes('reaped') ? true : undefined), 'the child to be reaped');
  assert.deepEqual(treePids(root), [root]);
  const afterReap = treeCpuSeconds(root);
  assert.ok(afterReap >= live, `the reaped child's time stays counted (${afterReap} s ≥ ${live} s)`);
  // Counted twice, it would add the child's ≥ 0.3 s again; it only runs on for the few ms before the kill.
  assert.ok(afterReap < live + 0.2, `and is counted once (${afterReap} s against ${live} s)`);
  parent.stdin.end();
});
