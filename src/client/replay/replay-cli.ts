#!/usr/bin/env node
/**
 * `ingest-replay`: reads calls back from Redis Streams or Kafka and writes each
 * as DIR/<interaction_id>.wav with a JSON sidecar (docs/consumer.md). Exit
 * codes: 0 ok, 1 backend failure, 2 usage, 3 a gap was found, 4 a record or a
 * call could not be read or written. SIGINT/SIGTERM end any run as if the
 * reading were done (the calls still open are written, except in a group run);
 * a second signal exits at once.
 */
import { ConsumerError } from '../../../packages/consumer/src/index';
import { parseReplayOptions, USAGE, UsageError } from './replay-options';
import { EXIT, ReplayRun } from './replay-run';

async function main(): Promise<number> {
  let options;
  try {
    options = parseReplayOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`ingest-replay: ${error.problems.join('\n  ')}\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const run = new ReplayRun(options, {
    line: (text) => process.stdout.write(`${text}\n`),
    warn: (text) => process.stderr.write(`ingest-replay: ${text}\n`),
  });
  // The first signal ends the run as if the reading were done (the open calls are written, except in a group);
  // a second one exits at once.
  let signalled = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(signal === 'SIGINT' ? 130 : 143);
    signalled = true;
    process.stderr.write(`ingest-replay: ${signal}: finishing (again to exit at once)\n`);
    run.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return await run.run();
  } catch (error) {
    const code = error instanceof ConsumerError ? error.code : 'failed';
    process.stderr.write(`ingest-replay: ${code}: ${(error as Error).message}\n`);
    return EXIT.failed;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

void main().then((code) => {
  process.exitCode = code;
});
