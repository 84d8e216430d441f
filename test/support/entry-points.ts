/**
 * The build's list of entry points, read by the same code as postbuild
 * (ops/check-entry-points.js, plain JavaScript: it runs before anything is compiled).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from './repo-root';

interface EntryPointsModule {
  /** The list file, relative to the repository root. */
  readonly LIST_FILE: string;
  listedEntryPoints(root: string): string[];
}

const checker = createRequire(__filename)(path.join(REPO_ROOT, 'ops', 'check-entry-points.js')) as EntryPointsModule;

export const ENTRY_POINT_LIST = checker.LIST_FILE;

/** The paths the list holds, relative to `root` (default: this repository). */
export function listedEntryPoints(root = REPO_ROOT): string[] {
  return checker.listedEntryPoints(root);
}
