/**
 * Renders a ConfigResult for people: every problem on its own line, naming the
 * variable, what it got and what it expected, then the warnings. Used by
 * `npm run validate:env` and by the primary before it exits with 78.
 */
import type { ConfigProblem, ConfigResult } from './config';

const RED = '\u001b[31m';
const YELLOW = '\u001b[33m';
const GREEN = '\u001b[32m';
const RESET = '\u001b[0m';

export function formatConfigReport(result: ConfigResult, opts: { color: boolean }): string {
  const paint = (code: string, text: string) => (opts.color ? `${code}${text}${RESET}` : text);
  const lines: string[] = [];
  if (result.ok) {
    const { pubsubAdapter, port, workers } = result.config;
    lines.push(paint(GREEN, `configuration OK: adapter ${pubsubAdapter}, port ${port}, ${plural(workers, 'worker')}`));
  } else {
    lines.push(paint(RED, `configuration invalid: ${plural(result.problems.length, 'problem')}`));
    for (const problem of result.problems) lines.push(paint(RED, `  ${problemLine(problem)}`));
  }
  if (result.warnings.length > 0) {
    lines.push(paint(YELLOW, `${plural(result.warnings.length, 'warning')}:`));
    for (const warning of result.warnings) lines.push(paint(YELLOW, `  ${warning}`));
  }
  return `${lines.join('\n')}\n`;
}

/** `VARIABLE: got "<value>", expected <expected>`; the value is JSON-quoted so newlines stay on one line. */
export function problemLine(problem: ConfigProblem): string {
  const from = problem.source === 'file' ? ' (from CONFIG_FILE)' : problem.source === 'default' ? ' (not set)' : '';
  return `${problem.variable}: got ${JSON.stringify(problem.value)}${from}, expected ${problem.expected}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
