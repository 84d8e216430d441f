/**
 * Runs the real HAProxy (Debian's `haproxy`) on ops/haproxy/haproxy.cfg, the
 * file operators use, with its settings in the environment, and talks to its
 * runtime API socket: server states, drain and ready. A missing binary fails
 * the test with how to install it.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ROUTES } from '../../src/shared/routes';
import { freePorts } from './free-port';
import { startForeground } from './foreground-process';
import { pollUntil } from './http-get';
import { REPO_ROOT } from './repo-root';

export const HAPROXY_CFG = path.join(REPO_ROOT, 'ops', 'haproxy', 'haproxy.cfg');
/** The backend and frontend names in haproxy.cfg. */
export const HAPROXY_BACKEND = 'ingest';

const MISSING = 'haproxy not found: install it (apt-get install haproxy)';

/** The environment haproxy.cfg reads, for backends at these ports on 127.0.0.1. */
export interface HaproxyEnv {
  readonly env: Record<string, string>;
  readonly port: number;
  readonly statsPort: number;
  readonly socket: string;
}

/**
 * INGEST_BACKEND_1 … INGEST_BACKEND_<n> for `backendPorts` (2 to 8, as haproxy.cfg has server lines for).
 * Health checks every 200 ms unless `checkInter` says otherwise (e.g. haproxy.cfg's own 2s).
 */
export async function haproxyEnv(
  t: TestContext,
  backendPorts: readonly number[],
  checkInter = '200ms',
): Promise<HaproxyEnv> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-haproxy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [port, statsPort] = await freePorts(2);
  const socket = path.join(dir, 'admin.sock');
  return {
    port,
    statsPort,
    socket,
    env: {
      ...Object.fromEntries(backendPorts.map((p, k) => [`INGEST_BACKEND_${k + 1}`, `127.0.0.1:${p}`])),
      INGEST_LB_BIND: `127.0.0.1:${port}`,
      INGEST_LB_STATS_BIND: `127.0.0.1:${statsPort}`,
      INGEST_LB_SOCKET: socket,
      // HAProxy refuses to start when it cannot raise its file-descriptor limit to fit maxconn.
      INGEST_LB_MAXCONN: '1000',
      INGEST_LB_CHECK_INTER: checkInter,
      // Whoever runs the test: HAProxy cannot switch to another user without root.
      INGEST_LB_USER: os.userInfo().username,
      INGEST_LB_GROUP: execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim(),
    },
  };
}

/** `haproxy -c -f haproxy.cfg` with `env`: its exit status and output. */
export function checkHaproxyConfig(env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile('haproxy', ['-c', '-f', HAPROXY_CFG], { env: { PATH: process.env.PATH ?? '', ...env } }, (err, out, e) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error(MISSING));
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${out}${e}` });
    });
  });
}

/** One line of `show servers state`: the fields the tests read. */
export interface ServerState {
  readonly name: string;
  /** 0 stopped (down), 1 starting, 2 running (up), 3 stopping. */
  readonly opState: number;
  readonly adminState: number;
}

export interface RunningHaproxy {
  readonly url: string;
  /** A runtime API command's answer. */
  command(line: string): Promise<string>;
  servers(): Promise<Map<string, ServerState>>;
  /** What HAProxy wrote so far: its log, one line per connection (haproxy.cfg's log-format). */
  output(): string;
  /** Log lines of upgrades answered 101 after one retry or more (retry-on): the last of %ac/%fc/%bc/%sc/%rc. */
  retriedUpgrades(): number;
  /** Open sessions (streams) per server of the backend. */
  sessions(): Promise<Map<string, number>>;
  /** Resolves once no server of the backend has a session open (closed streams all counted out). */
  waitForNoSessions(): Promise<void>;
  /** Resolves once every named server has this operational state. */
  waitForServers(want: Record<string, number>, what: string): Promise<void>;
}

export const SERVER_DOWN = 0;
export const SERVER_UP = 2;

function runtimeCommand(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    let answer = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => (answer += chunk));
    conn.on('end', () => resolve(answer));
    conn.on('error', reject);
    conn.end(`${line}\n`);
  });
}

/** `show servers state` lines: "be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state …". */
function parseServersState(text: string): Map<string, ServerState> {
  const states = new Map<string, ServerState>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7 || f[0].startsWith('#') || f[1] !== HAPROXY_BACKEND) continue;
    states.set(f[3], { name: f[3], opState: Number(f[5]), adminState: Number(f[6]) });
  }
  return states;
}

/** Current sessions per server of the backend, from `show stat` (CSV, with a "# pxname,svname,…" header). */
function parseSessions(csv: string): Map<string, number> {
  const [header, ...rows] = csv.split('\n').filter((l) => l.length > 0);
  const names = header.replace(/^# /, '').split(',');
  const col = (name: string): number => names.indexOf(name);
  const sessions = new Map<string, number>();
  for (const row of rows) {
    const f = row.split(',');
    // The frontend has the backend's name too: its row and the backend's total are not servers.
    if (f[col('pxname')] !== HAPROXY_BACKEND || ['FRONTEND', 'BACKEND'].includes(f[col('svname')])) continue;
    sessions.set(f[col('svname')], Number(f[col('scur')]));
  }
  return sessions;
}

/** Starts HAProxy in the foreground; killed after the test. Resolves once its runtime API answers. */
export async function startHaproxy(t: TestContext, setup: HaproxyEnv): Promise<RunningHaproxy> {
  const tool = startForeground(t, 'haproxy', ['-db', '-f', HAPROXY_CFG], MISSING, {
    env: { PATH: process.env.PATH ?? '', ...setup.env },
  });

  const command = async (line: string): Promise<string> => {
    tool.assertRunning();
    return runtimeCommand(setup.socket, line);
  };
  const servers = async (): Promise<Map<string, ServerState>> =>
    parseServersState(await command(`show servers state ${HAPROXY_BACKEND}`));
  const sessions = async (): Promise<Map<string, number>> => parseSessions(await command('show stat'));
  const haproxy: RunningHaproxy = {
    url: `ws://127.0.0.1:${setup.port}${ROUTES.ingest}`,
    command,
    servers,
    sessions,
    output: () => tool.output(),
    retriedUpgrades: () =>
      tool
        .output()
        .split('\n')
        .filter((line) => / 101 .* \d+\/\d+\/\d+\/\d+\/\+?[1-9]\d* GET /.test(line)).length,
    async waitForNoSessions() {
      await pollUntil(async () => {
        const sessions = await haproxy.sessions();
        return sessions.size > 0 && [...sessions.values()].every((n) => n === 0) ? true : undefined;
      }, 'no open session on any server');
    },
    async waitForServers(want, what) {
      let last = '';
      await pollUntil(
        async () => {
          tool.assertRunning();
          const states = await servers();
          last = JSON.stringify([...states.values()]);
          return Object.entries(want).every(([name, op]) => states.get(name)?.opState === op) ? true : undefined;
        },
        `${what} (servers: ${last || 'none yet'})`,
        30_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; last states ${last}; haproxy output:\n${tool.output()}`);
      });
    },
  };
  await pollUntil(async () => {
    tool.assertRunning();
    await command('show info');
    return true;
  }, 'the HAProxy runtime API to answer').catch((err: Error) => {
    throw tool.failure() ?? new Error(`${err.message}; haproxy output:\n${tool.output()}`);
  });
  return haproxy;
}
