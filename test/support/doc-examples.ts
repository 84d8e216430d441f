/**
 * The runnable examples of the docs, taken from the markdown itself: a block is
 * the fenced code block right after a `<!-- example: NAME -->` line (a comment,
 * so nothing shows when the page is rendered). Reading them from the docs makes
 * a doc edit that breaks an example fail the tests that run it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './repo-root';

export interface DocExample {
  /** The fence's info string, e.g. 'js', 'sh', 'html'. */
  readonly lang: string;
  /** The block's text, without its fences, ending with a newline. */
  readonly code: string;
}

const MARKER = /^<!-- example: ([A-Za-z0-9._-]+) -->$/;

/** Every marked block of a doc (a path from the repository root), by name; throws on a marker without a block. */
export function docExamples(doc: string): Map<string, DocExample> {
  const lines = fs.readFileSync(path.join(REPO_ROOT, doc), 'utf8').split('\n');
  const examples = new Map<string, DocExample>();
  for (let i = 0; i < lines.length; i++) {
    const name = MARKER.exec(lines[i].trim())?.[1];
    if (name === undefined) continue;
    const open = /^(`{3,})(\S*)\s*$/.exec(lines[i + 1] ?? '');
    if (!open) throw new Error(`${doc}:${i + 1}: example ${name} is not followed by a code fence`);
    if (examples.has(name)) throw new Error(`${doc}:${i + 1}: example ${name} is named twice`);
    const close = lines.findIndex((line, j) => j > i + 1 && line.trimEnd() === open[1]);
    if (close < 0) throw new Error(`${doc}:${i + 2}: example ${name}'s fence is never closed`);
    examples.set(name, { lang: open[2], code: lines.slice(i + 2, close).join('\n') + '\n' });
    i = close;
  }
  return examples;
}

/** The block named `name` of `doc`; throws, naming the doc, when there is none. */
export function docExample(doc: string, name: string): DocExample {
  const example = docExamples(doc).get(name);
  if (!example)
    throw new Error(`${doc} has no example named ${name} (a <!-- example: ${name} --> line before a fence)`);
  return example;
}
