'use strict';
// The real single-node Kafka brokers the tests use (Apache Kafka, KRaft), run
// by ops/dev/kafka.sh from Maven Central jars cached in .cache/kafka/<version>.
// The version is the script's (KAFKA_VERSION, default 4.4.0) unless a caller
// names one: the publisher contract also runs once against LEGACY_KAFKA_VERSION.
//
// ensureKafka(): a broker answering on 127.0.0.1:9092 (KAFKA_PORT) is used as
// it is (a developer's `ops/dev/kafka.sh start`, docker compose, ...). Otherwise
// it starts one with fresh data and returns a function that stops it.
//
// restartable(options): start/stop/reset of a private broker, for a test that
// needs an outage or another Kafka version. The first start() begins with fresh
// data; stop() is a clean SIGTERM; a later start() brings the broker back on the
// same ports with the same data dir, so records written before the outage are
// still there. Give it ports of its own (freePorts(2) from
// test/support/free-port.ts) so that stopping it cannot break other tests
// running at the same time against the shared broker, and register reset()
// with t.after.
const path = require('node:path');
const { spawn } = require('node:child_process');
const { probeKafka } = require('../../../ops/dev/kafka/probe.js');

const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'ops', 'dev', 'kafka.sh');
const KAFKA_HOST = '127.0.0.1';
const KAFKA_PORT = Number(process.env.KAFKA_PORT || 9092);
/** The shared broker, as a kafkajs `brokers` list. */
const KAFKA_BROKERS = [`${KAFKA_HOST}:${KAFKA_PORT}`];
/** The older release line the publisher contract also runs against (users on older clusters). */
const LEGACY_KAFKA_VERSION = '3.9.2';

/**
 * Runs ops/dev/kafka.sh with the given arguments. `echo` passes its output
 * through to stderr (progress of a slow first fetch); otherwise the output is
 * kept and put into the error when the script fails.
 */
function runScript(args, { env = {}, echo = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(SCRIPT, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk) => {
      output += chunk;
      if (echo) process.stderr.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) => reject(new Error(`cannot run ${SCRIPT}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(output);
      const tail = echo ? '' : `:\n${output.trim().split('\n').slice(-30).join('\n')}`;
      reject(new Error(`ops/dev/kafka.sh ${args.join(' ')} failed (${signal ?? `exit ${code}`})${tail}`));
    });
  });
}

async function ensureKafka() {
  if (await probeKafka({ host: KAFKA_HOST, port: KAFKA_PORT })) return undefined;
  await runScript(['start', '--fresh'], { echo: true });
  return async () => {
    await runScript(['stop'], { echo: true });
  };
}

/**
 * A broker the caller may stop and start again: `{ brokers, start, stop, reset }`.
 * Without ports it controls the shared broker, which only works when
 * ops/dev/kafka.sh started it (the script refuses to stop anyone else's).
 * `version` picks the Kafka release (default: the script's, KAFKA_VERSION or
 * 4.4.0), `heap` the JVM heap options (default: the script's, 512 MB).
 * start() as the first call formats fresh data (a no-op when the broker already
 * runs); after a stop() it reuses the data dir; reset() stops and deletes it.
 */
function restartable({ port = KAFKA_PORT, controllerPort, version, heap } = {}) {
  const env = { KAFKA_PORT: String(port) };
  if (controllerPort !== undefined) env.KAFKA_CONTROLLER_PORT = String(controllerPort);
  else if (port !== KAFKA_PORT) throw new Error('restartable: give a controllerPort with a port of your own');
  if (version !== undefined) env.KAFKA_VERSION = version;
  if (heap !== undefined) env.KAFKA_HEAP_OPTS = heap;
  let used = false; // once started or stopped, start() means restart: keep the data
  return {
    brokers: [`${KAFKA_HOST}:${port}`],
    start: async () => {
      const fresh = !used;
      used = true;
      await runScript(fresh ? ['start', '--fresh'] : ['start'], { env });
    },
    stop: async () => {
      used = true;
      await runScript(['stop'], { env });
    },
    reset: async () => {
      await runScript(['reset'], { env });
    },
  };
}

module.exports = {
  ensureKafka,
  restartable,
  probeKafka,
  KAFKA_HOST,
  KAFKA_PORT,
  KAFKA_BROKERS,
  LEGACY_KAFKA_VERSION,
};
