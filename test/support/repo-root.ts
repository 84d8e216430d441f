import path from 'node:path';

/** The repository root: this file runs from dist/test/support. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
