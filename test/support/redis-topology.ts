/**
 * Real Redis topologies of a test's own, from Debian's binaries, on free
 * loopback ports with their own temporary directories:
 * - startRedisClusterNodes: a Redis Cluster of 3 masters and 3 replicas
 *   (`redis-cli --cluster create … --cluster-replicas 1`), with a 2 s
 *   cluster-node-timeout (short, yet safe on a loaded machine): a killed master's replica takes over in a
 *   few seconds;
 * - startRedisSentinelGroup: a master, its replica and 3 redis-sentinel
 *   processes (quorum 2) with short down-after and failover timeouts.
 * Every process is killed after the test, and if the test process exits first.
 * (Not test/support/redis-cluster.ts: that one is the service's own cluster
 * publishing to Redis.)
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import Redis from 'ioredis';
import { keySlot } from '../../src/shared/publishing/redis-streams/hash-slot';
import { freePorts } from './free-port';
import { pollUntil } from './http-get';
import { readStream, REDIS_HOST, type StreamEntry } from './redis';

/** Where cleanup is registered: a test's context, or a file's `after` (node:test) for a topology it shares. */
export interface CleanupScope {
  after(fn: () => unknown): void;
}

/**
 * A scope whose cleanups run when the calling test file ends. Call it at the
 * file's top level (node:test's `after` called from inside a hook runs at once).
 */
export function fileScope(): CleanupScope {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });
  return { after: (fn) => void cleanups.push(fn) };
}

/** Every child of every topology, killed if the test process exits without its cleanup. */
const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

/** One redis-server or redis-sentinel process of a topology. */
export interface RedisProcess {
  readonly port: number;
  /** host:port, as the service's settings take it. */
  readonly address: string;
  /** A plain client to this process (reconnects on its own; quit after the test). */
  readonly client: Redis;
  /** Sends a signal (SIGKILL to crash it, SIGSTOP/SIGCONT to freeze it); SIGKILL waits for the exit. */
  signal(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same arguments, port and directory, after a SIGKILL. */
  restart(): Promise<void>;
  readonly running: boolean;
}

/**
 * Spawns `binary args…` and resolves once its output says `readyText`. Output
 * is kept for the error message of a process that exits before that, or that
 * is not ready within `timeoutMs` (then it is killed).
 */
export function spawnUntilReady(
  binary: string,
  args: readonly string[],
  readyText: string,
  timeoutMs = 30_000,
): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  everyChild.add(child);
  child.once('exit', () => everyChild.delete(child));
  let output = '';
  return new Promise<ChildProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(new Error(`${binary} ${args.join(' ')} was not ready within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${binary} ${args.join(' ')} exited (${code}) before it was ready:\n${output}`));
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (!output.includes(readyText)) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.stdout.resume();
      child.stderr.resume();
      resolve(child);
    };
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${binary}: ${err.message}`));
    });
    child.once('exit', onExit);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

async function startProcess(
  t: CleanupScope,
  binary: string,
  port: number,
  args: () => string[],
  readyText: string,
): Promise<RedisProcess> {
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = await spawnUntilReady(binary, args(), readyText);
  };
  await launch();
  const client = new Redis({ host: REDIS_HOST, port, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  client.on('error', () => undefined); // a killed process: the test sees it through its own checks
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    if (name !== 'SIGKILL') {
      running.kill(name);
      return;
    }
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGCONT'); // a frozen process is killed all the same, but say so
    running.kill('SIGKILL');
    await exited;
  };
  t.after(async () => {
    await signal('SIGKILL');
    client.disconnect();
  });
  return {
    port,
    address: `${REDIS_HOST}:${port}`,
    client,
    signal,
    restart: launch,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
  };
}

function tempDir(t: CleanupScope, label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ingest-${label}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The arguments every redis-server of a topology gets: loopback only, no persistence. */
function serverArgs(port: number, dir: string): string[] {
  return ['--bind', REDIS_HOST, '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no'];
}

function run(binary: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${binary} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A slot range and the node ports serving it, master first (CLUSTER SLOTS). */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly master: number;
  readonly replicas: number[];
}

export interface RedisClusterNodes {
  readonly nodes: RedisProcess[];
  /** host:port of every node: REDIS_CLUSTER_NODES. */
  readonly seeds: string[];
  /** The slot map as a live node sees it now. */
  slots(): Promise<SlotRange[]>;
  /** The port of the master serving `key` now. */
  masterOf(key: string): Promise<number>;
  node(port: number): RedisProcess;
  /** Every entry of `key`, read from the master that serves it. */
  readKey(key: string): Promise<StreamEntry[]>;
  /**
   * Resolves once every running node says cluster_state:ok, every replica's link
   * to its master is up, running masters serve every slot and (withReplicas,
   * the default) every master has a replica.
   */
  waitUntilHealthy(what: string, withReplicas?: boolean): Promise<void>;
}

/**
 * Six cluster-enabled redis-servers (each with its own port, bus port and
 * directory), joined by `redis-cli --cluster create` into 3 masters with a
 * replica each; resolves once the cluster is healthy.
 */
export async function startRedisClusterNodes(
  t: CleanupScope,
  options: { nodeTimeoutMs?: number } = {},
): Promise<RedisClusterNodes> {
  const ports = await freePorts(12);
  const nodes = await Promise.all(
    ports.slice(0, 6).map(async (port, i) => {
      const dir = tempDir(t, 'redis-cluster');
      const args = (): string[] => [
        ...serverArgs(port, dir),
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(ports[6 + i]),
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        // Long enough that a loaded machine does not fail a master over by mistake.
        String(options.nodeTimeoutMs ?? 2000),
        // A replica always stands for election, however long ago it heard from its master.
        '--cluster-replica-validity-factor',
        '0',
      ];
      return startProcess(t, 'redis-server', port, args, 'Ready to accept connections');
    }),
  );
  const seeds = nodes.map((n) => n.address);
  await run('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', '1', '--cluster-yes']);
  const byPort = new Map(nodes.map((n) => [n.port, n]));
  const node = (port: number): RedisProcess => {
    const found = byPort.get(port);
    if (!found) throw new Error(`no cluster node on port ${port}`);
    return found;
  };
  const slots = async (): Promise<SlotRange[]> => {
    for (const n of nodes) {
      if (!n.running) continue;
      try {
        const raw = await n.client.cluster('SLOTS');
        return raw.map(([start, end, master, ...replicas]) => ({
          start,
          end,
          master: master[1],
          replicas: replicas.map((r) => r[1]),
        }));
      } catch {
        // this node cannot answer now: ask the next
      }
    }
    throw new Error('no cluster node answers CLUSTER SLOTS');
  };
  const masterOf = async (key: string): Promise<number> => {
    const slot = keySlot(key);
    const range = (await slots()).find((r) => r.start <= slot && slot <= r.end);
    if (!range) throw new Error(`no master serves slot ${slot} of ${key}`);
    return range.master;
  };
  const waitUntilHealthy = async (what: string, withReplicas = true): Promise<void> => {
    await pollUntil(
      async () => {
        for (const n of nodes) {
          if (!n.running) continue;
          const info = String(await n.client.cluster('INFO'));
          if (!info.includes('cluster_state:ok')) return undefined;
          const replication = await n.client.info('replication');
          if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return undefined;
        }
        const map = await slots();
        const served = map.every((r) => byPort.get(r.master)?.running === true);
        const replicated = !withReplicas || map.every((r) => r.replicas.length > 0);
        return served && replicated ? true : undefined;
      },
      what,
      60_000,
      100,
    );
  };
  await waitUntilHealthy('the new cluster healthy');
  return {
    nodes,
    seeds,
    slots,
    masterOf,
    node,
    readKey: async (key) => readStream(node(await masterOf(key)).client, key),
    waitUntilHealthy,
  };
}

export interface RedisSentinelGroup {
  readonly master: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinels: RedisProcess[];
  /** The group's name: REDIS_SENTINEL_NAME. */
  readonly name: string;
  /** host:port of every sentinel: REDIS_SENTINELS. */
  readonly addresses: string[];
  /** The port of the master the sentinels name now. */
  currentMaster(): Promise<number>;
  /** Resolves once a quorum of sentinels names `port` as the master and it answers as one. */
  waitForMaster(port: number, what: string): Promise<void>;
}

/**
 * A master, one replica and three sentinels monitoring them (quorum 2,
 * down-after 1000 ms, failover timeout 3000 ms); resolves once every sentinel
 * knows the replica and the two other sentinels.
 */
export async function startRedisSentinelGroup(t: CleanupScope): Promise<RedisSentinelGroup> {
  const [masterPort, replicaPort, ...sentinelPorts] = await freePorts(5);
  const name = 'ingest-test';
  const master = await startProcess(
    t,
    'redis-server',
    masterPort,
    (
      (dir) => () =>
        serverArgs(masterPort, dir)
    )(tempDir(t, 'redis-master')),
    'Ready to accept connections',
  );
  const replicaDir = tempDir(t, 'redis-replica');
  const replica = await startProcess(
    t,
    'redis-server',
    replicaPort,
    () => [...serverArgs(replicaPort, replicaDir), '--replicaof', REDIS_HOST, String(masterPort)],
    'Ready to accept connections',
  );
  const sentinels = await Promise.all(
    sentinelPorts.map((port) => {
      const dir = tempDir(t, 'redis-sentinel');
      const file = path.join(dir, 'sentinel.conf');
      fs.writeFileSync(
        file,
        [
          `port ${port}`,
          `bind ${REDIS_HOST}`,
          `dir ${dir}`,
          `sentinel monitor ${name} ${REDIS_HOST} ${masterPort} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 3000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      return startProcess(t, 'redis-sentinel', port, () => [file], 'Sentinel ID is');
    }),
  );
  const currentMaster = async (): Promise<number> => {
    for (const s of sentinels) {
      if (!s.running) continue;
      const addr = (await s.client.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null;
      if (addr) return Number(addr[1]);
    }
    throw new Error('no sentinel names a master');
  };
  const byPort = new Map([master, replica].map((p) => [p.port, p]));
  const waitForMaster = async (port: number, what: string): Promise<void> => {
    await pollUntil(
      async () => {
        let agree = 0;
        for (const s of sentinels) {
          const addr = (await s.client.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null;
          if (addr && Number(addr[1]) === port) agree++;
        }
        const role = await byPort.get(port)?.client.info('replication');
        return agree >= 2 && role?.includes('role:master') ? true : undefined;
      },
      what,
      60_000,
      100,
    );
  };
  await pollUntil(
    async () => {
      for (const s of sentinels) {
        const flat = (await s.client.call('SENTINEL', 'master', name)) as string[];
        const info = new Map<string, string>();
        for (let i = 0; i + 1 < flat.length; i += 2) info.set(flat[i], flat[i + 1]);
        if (info.get('num-slaves') !== '1' || info.get('num-other-sentinels') !== '2') return undefined;
      }
      const replication = await replica.client.info('replication');
      return replication.includes('master_link_status:up') ? true : undefined;
    },
    'the sentinels to know the replica and each other',
    60_000,
    100,
  );
  return {
    master,
    replica,
    sentinels,
    name,
    addresses: sentinels.map((s) => s.address),
    currentMaster,
    waitForMaster,
  };
}
