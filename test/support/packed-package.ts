/**
 * A package of packages/ as an integrator gets it: `npm pack` of its build,
 * unpacked into a scratch project as node_modules/<name>, with the repository's
 * own copies of its peer dependencies linked beside it. The project is removed
 * after the test.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './repo-root';

export interface PackedProject {
  /** The scratch project's folder. */
  readonly dir: string;
  /** The paths each package's tarball holds, by package folder name ('client', 'consumer'). */
  readonly packed: ReadonlyMap<string, readonly string[]>;
}

/** `packages/<folder>` packed and installed, and `links` (modules of this repository) linked, in a fresh project. */
export function installPacked(
  t: { after: (fn: () => void) => void },
  folders: readonly string[],
  links: readonly string[] = [],
): PackedProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-packed-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const packed = new Map<string, readonly string[]>();
  for (const folder of folders) {
    const packageDir = path.join(REPO_ROOT, 'packages', folder);
    const [tarball] = JSON.parse(
      execFileSync('npm', ['pack', packageDir, '--pack-destination', dir, '--json', '--ignore-scripts'], {
        encoding: 'utf8',
        cwd: dir,
      }),
    ) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
    const target = path.join(dir, 'node_modules', ...tarball.name.split('/'));
    fs.mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(dir, tarball.filename), '-C', target, '--strip-components=1']);
    packed.set(
      folder,
      tarball.files.map((f) => f.path),
    );
  }
  for (const name of links) {
    const link = path.join(dir, 'node_modules', ...name.split('/'));
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', name), link);
  }
  return { dir, packed };
}
