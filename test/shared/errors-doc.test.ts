/**
 * docs/errors.md and the ERRORS catalogue stay in step (fastify keeps its
 * error reference honest the same way): every code documented with the same
 * HTTP status, close code and meaning, and no code documented that does not exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ERRORS, type ErrorSpec } from '../../src/shared/errors';

import { REPO_ROOT as root } from '../support/repo-root';
const DOC = path.join(root, 'docs', 'errors.md');
const NONE = '—';

interface DocRow {
  readonly status: string;
  readonly closeCode: string;
  readonly meaning: string;
}

/** Markdown backslash escapes (`\<`, `\|`) stand for the character itself. */
function unescape(cell: string): string {
  return cell.replace(/\\([\\`*_{}[\]()#+\-.!|<>])/g, '$1');
}

/** The table rows whose first cell is a `code`, keyed by code (duplicates are an error). */
function readDocRows(text: string): Map<string, DocRow> {
  const rows = new Map<string, DocRow>();
  for (const line of text.split('\n')) {
    const match = /^\|\s*`([a-z0-9_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!match) continue;
    const code = match[1];
    const cells = match[2].split(/(?<!\\)\|/).map((c) => unescape(c.trim()));
    assert.equal(
      cells.length,
      3,
      `docs/errors.md: the row for ${code} must have 4 cells (code, HTTP status, close code, meaning)`,
    );
    assert.ok(!rows.has(code), `docs/errors.md lists ${code} twice`);
    rows.set(code, { status: cells[0], closeCode: cells[1], meaning: cells[2] });
  }
  return rows;
}

function expected(spec: ErrorSpec): DocRow {
  return {
    status: spec.status === undefined ? NONE : String(spec.status),
    closeCode: spec.closeCode === undefined ? NONE : String(spec.closeCode),
    meaning: spec.doc,
  };
}

function docRows(): Map<string, DocRow> {
  return readDocRows(fs.readFileSync(DOC, 'utf8'));
}

test('docs/errors.md documents every error code with its HTTP status, close code and meaning', () => {
  const rows = docRows();
  for (const [code, spec] of Object.entries(ERRORS) as Array<[string, ErrorSpec]>) {
    const row = rows.get(code);
    assert.ok(row, `docs/errors.md has no row for ${code}: add | \`${code}\` | ... | to it`);
    assert.deepEqual(row, expected(spec), `docs/errors.md disagrees with src/shared/errors.ts about ${code}`);
  }
});

test('docs/errors.md documents no error code that the catalogue lacks', () => {
  const extra = [...docRows().keys()].filter((code) => !Object.hasOwn(ERRORS, code));
  assert.deepEqual(
    extra,
    [],
    `docs/errors.md lists codes that src/shared/errors.ts does not define: ${extra.join(', ')}`,
  );
});
