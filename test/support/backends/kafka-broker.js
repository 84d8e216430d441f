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
//
// kafkaCluster(options): a private cluster of several nodes (3 by default), each
// broker and controller in one JVM, from the same jars, on free ports, with its
// data and logs in a temp dir of its own; a test may stop any node (SIGKILL or
// SIGTERM) and start it again with its data. close() kills every JVM it started
// and deletes the dir; a test process that exits without close() still kills them.
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
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

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** ops/dev/kafka.sh's default release, for a cluster that names none. */
const DEFAULT_KAFKA_VERSION = process.env.KAFKA_VERSION || '4.4.0';

/** `count` distinct ports nobody listens on now (all held until each is picked). */
async function freeTcpPorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      servers.push(
        await new Promise((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, KAFKA_HOST, () => resolve(server));
        }),
      );
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** What StorageTool random-uuid prints: base64url of 16 random bytes, not starting with '-'. */
function randomClusterId() {
  for (;;) {
    const id = require('node:crypto').randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The JVM flags ops/dev/kafka.sh uses (Kafka's kafka-run-class.sh minus JMX and GC logging). */
function jvmOptions(version, logsDir) {
  const major = Number(version.split('.')[0]);
  const logging =
    major >= 4
      ? `-Dlog4j2.configurationFile=${path.join(REPO_ROOT, 'ops', 'dev', 'kafka', 'log4j2.properties')}`
      : `-Dlog4j.configuration=file:${path.join(REPO_ROOT, 'ops', 'dev', 'kafka', 'log4j.properties')}`;
  return [
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    logging,
    `-Dkafka.logs.dir=${logsDir}`,
  ];
}

/** Runs a JVM to completion; rejects with its output's tail when it fails. */
function runJava(args, logFile) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    const child = spawn('java', args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    child.on('error', (err) => reject(new Error(`cannot run java: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) return resolve();
      const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-20).join('\n');
      reject(new Error(`java ${args.at(-5) ?? ''} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}

/** JVMs started by kafkaCluster and not yet seen to exit: killed if the test process exits first. */
const clusterChildren = new Set();
process.on('exit', () => {
  for (const child of clusterChildren) child.kill('SIGKILL');
});

/**
 * A private cluster of `nodes` combined broker+controller nodes (static quorum
 * of all of them): `{ brokers, nodes, start, stopNode, startNode, close }`.
 * `brokerConfig` adds or overrides server.properties entries on every node.
 * Internal topics get min(3, nodes) replicas; the test's topics choose their own.
 */
function kafkaCluster({
  nodes: count = 3,
  version = DEFAULT_KAFKA_VERSION,
  heap = '-Xms128m -Xmx256m',
  brokerConfig = {},
} = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-kafka-cluster-'));
  const lib = path.join(REPO_ROOT, '.cache', 'kafka', version, 'lib');
  const classPath = `${lib}/*`;
  const replicas = Math.min(3, count);
  let nodes = [];
  let closed = false;

  function configFor(node, voters) {
    const entries = {
      'process.roles': 'broker,controller',
      'node.id': node.id,
      'controller.quorum.voters': voters,
      listeners: `PLAINTEXT://${KAFKA_HOST}:${node.port},CONTROLLER://${KAFKA_HOST}:${node.controllerPort}`,
      'advertised.listeners': `PLAINTEXT://${KAFKA_HOST}:${node.port}`,
      'inter.broker.listener.name': 'PLAINTEXT',
      'controller.listener.names': 'CONTROLLER',
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      'log.dirs': node.data,
      'num.partitions': 1,
      'default.replication.factor': replicas,
      'offsets.topic.replication.factor': replicas,
      'offsets.topic.num.partitions': 1,
      'transaction.state.log.replication.factor': replicas,
      'transaction.state.log.min.isr': 1,
      'transaction.state.log.num.partitions': 1,
      'share.coordinator.state.topic.replication.factor': replicas,
      'share.coordinator.state.topic.min.isr': 1,
      'group.initial.rebalance.delay.ms': 0,
      'auto.create.topics.enable': false,
      'log.cleaner.dedupe.buffer.size': 16777216,
      ...brokerConfig,
    };
    if (Number(version.split('.')[0]) < 4) {
      delete entries['share.coordinator.state.topic.replication.factor'];
      delete entries['share.coordinator.state.topic.min.isr'];
    }
    return Object.entries(entries)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
  }

  async function waitAnswering(node, timeoutMs) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (!node.child) throw new Error(`kafka node ${node.id} exited during start-up (log: ${node.log})`);
      if (await probeKafka({ host: KAFKA_HOST, port: node.port, timeoutMs: 1000 })) return;
      if (Date.now() > until)
        throw new Error(`kafka node ${node.id} did not answer within ${timeoutMs} ms (log: ${node.log})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  function launch(node) {
    const out = fs.openSync(node.log, 'a');
    const child = spawn(
      'java',
      [
        ...heap.split(/\s+/).filter(Boolean),
        ...jvmOptions(version, node.dir),
        '-cp',
        classPath,
        'kafka.Kafka',
        node.config,
      ],
      { cwd: node.dir, stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    node.child = child;
    clusterChildren.add(child);
    node.exited = new Promise((resolve) =>
      child.on('exit', () => {
        clusterChildren.delete(child);
        if (node.child === child) node.child = undefined;
        resolve();
      }),
    );
  }

  return {
    dir,
    get brokers() {
      return nodes.map((n) => `${KAFKA_HOST}:${n.port}`);
    },
    get nodes() {
      return nodes.map(({ id, port, controllerPort, log, child }) => ({
        id,
        port,
        controllerPort,
        log,
        running: !!child,
      }));
    },
    /** Fetches the jars if needed, formats every node, starts them all, resolves once each answers. */
    async start({ timeoutMs = 90_000 } = {}) {
      await runScript(['fetch'], { env: { KAFKA_VERSION: version } });
      const ports = await freeTcpPorts(2 * count);
      nodes = Array.from({ length: count }, (_, i) => {
        const nodeDir = path.join(dir, `node-${i + 1}`);
        return {
          id: i + 1,
          port: ports[2 * i],
          controllerPort: ports[2 * i + 1],
          dir: nodeDir,
          data: path.join(nodeDir, 'data'),
          config: path.join(nodeDir, 'server.properties'),
          log: path.join(nodeDir, 'kafka.log'),
          child: undefined,
          exited: Promise.resolve(),
        };
      });
      const voters = nodes.map((n) => `${n.id}@${KAFKA_HOST}:${n.controllerPort}`).join(',');
      const clusterId = randomClusterId();
      await Promise.all(
        nodes.map(async (node) => {
          fs.mkdirSync(node.data, { recursive: true });
          fs.writeFileSync(node.config, configFor(node, voters) + '\n');
          await runJava(
            [
              '-Xmx256m',
              ...jvmOptions(version, node.dir),
              '-cp',
              classPath,
              'kafka.tools.StorageTool',
              'format',
              '-t',
              clusterId,
              '-c',
              node.config,
            ],
            path.join(node.dir, 'format.log'),
          );
        }),
      );
      if (closed) throw new Error('kafkaCluster closed during start');
      for (const node of nodes) launch(node);
      await Promise.all(nodes.map((node) => waitAnswering(node, timeoutMs)));
    },
    /** Stops node `id` with `signal` (SIGKILL: a crash; SIGTERM: a clean shutdown); resolves once its JVM exited. */
    async stopNode(id, signal = 'SIGKILL') {
      const node = nodes.find((n) => n.id === id);
      if (!node) throw new Error(`no kafka node ${id}`);
      if (!node.child) return;
      node.child.kill(signal);
      await node.exited;
    },
    /** Starts a stopped node again on its ports and data; resolves once it answers. */
    async startNode(id, { timeoutMs = 90_000 } = {}) {
      const node = nodes.find((n) => n.id === id);
      if (!node) throw new Error(`no kafka node ${id}`);
      if (closed) throw new Error('kafkaCluster closed');
      if (!node.child) launch(node);
      await waitAnswering(node, timeoutMs);
    },
    /** Kills every JVM (SIGKILL: nothing to keep) and deletes the dir. Idempotent. */
    async close() {
      closed = true;
      for (const node of nodes) node.child?.kill('SIGKILL');
      await Promise.all(nodes.map((node) => node.exited));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = {
  ensureKafka,
  restartable,
  kafkaCluster,
  probeKafka,
  KAFKA_HOST,
  KAFKA_PORT,
  KAFKA_BROKERS,
  LEGACY_KAFKA_VERSION,
};
