#!/usr/bin/env node
/**
 * `ingest-loadgen` (`npm run loadgen --`): real-time load against any
 * deployment, measured from outside as a user would (docs/loadgen.md). The
 * phase markers, progress, warnings and the final table go to stderr; with
 * --json the last line on stdout is always one JSON object: the report, or
 * `{"error": {code, message}}` when the run could not end in one. Exit 0 when
 * no committed frame is missing or out of order, the read-back worked and no
 * stream failed, 1 otherwise, 2 on bad usage.
 */
import { parseLoadgenArgs, USAGE, UsageError, type LoadgenOptions } from './loadgen-options';
import { exitStatusOf } from './loadgen-report';
import { LoadgenError, runLoadgen } from './loadgen-run';
import { reportTable } from './report-table';

/** With --json the last stdout line is always one object: the report, or this for a run that could not end in one. */
function printError(code: string, message: string): void {
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
}

function usageFailed(err: UsageError): number {
  process.stderr.write(`ingest-loadgen: ${err.problems.join('\n  ')}\n${USAGE}\n`);
  printError(err.code, err.message);
  return 2;
}

async function main(): Promise<number> {
  let options: LoadgenOptions | undefined;
  try {
    options = parseLoadgenArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageFailed(err);
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const abort = new AbortController();
  const onSignal = (): void => {
    process.stderr.write('ingest-loadgen: interrupted, stopping the streams\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const report = await runLoadgen(options, { stderr: process.stderr, signal: abort.signal });
    process.stderr.write(`${reportTable(report)}\n`);
    for (const warning of report.warnings) process.stderr.write(`WARNING: ${warning}\n`);
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    return exitStatusOf(report);
  } catch (err) {
    if (err instanceof UsageError) return usageFailed(err);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    process.stderr.write(`ingest-loadgen: ${err.message}\n`);
    printError(err instanceof LoadgenError ? err.code : 'failed', err.message);
    process.exitCode = 1;
  },
);
