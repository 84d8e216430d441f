/**
 * Runs Debian's nginx on ops/nginx/ingest.conf, included as operators do from
 * an http block, with only what a test must change: the servers' and the
 * listener's addresses and the access log's path. A missing binary fails the
 * test with how to install it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ROUTES } from '../../src/shared/routes';
import { freePort } from './free-port';
import { startForeground } from './foreground-process';
import { pollUntil } from './http-get';
import { REPO_ROOT } from './repo-root';

export const NGINX_CONF = path.join(REPO_ROOT, 'ops', 'nginx', 'ingest.conf');

const MISSING = 'nginx not found: install it (apt-get install nginx-light)';

export interface NginxSetup {
  /** The main configuration that includes the rendered ingest.conf. */
  readonly mainConf: string;
  readonly prefix: string;
  readonly port: number;
  readonly url: string;
}

/** A private copy of ingest.conf for backends at these ports, and a main configuration around it. */
export async function nginxSetup(t: TestContext, backendPorts: readonly number[]): Promise<NginxSetup> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-nginx-'));
  t.after(() => fs.rmSync(prefix, { recursive: true, force: true }));
  const port = await freePort();
  const servers = backendPorts.map((p) => `127.0.0.1:${p}`);
  let serverLine = 0;
  const conf = fs
    .readFileSync(NGINX_CONF, 'utf8')
    .replace(/^(\s*server )\S+:\d+/gm, (_m, lead: string) => `${lead}${servers[serverLine++]}`)
    .replace(/^(\s*listen )\S+;/m, `$1127.0.0.1:${port};`)
    .replace(/^(\s*access_log )\S+/m, `$1${path.join(prefix, 'access.log')}`);
  if (serverLine !== servers.length)
    throw new Error(`ingest.conf has ${serverLine} server lines, not ${servers.length}`);
  fs.writeFileSync(path.join(prefix, 'ingest.conf'), conf);
  const mainConf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(
    mainConf,
    [
      `error_log ${path.join(prefix, 'error.log')};`,
      `pid ${path.join(prefix, 'nginx.pid')};`,
      'events {}',
      `http { include ${path.join(prefix, 'ingest.conf')}; }`,
      '',
    ].join('\n'),
  );
  return { mainConf, prefix, port, url: `ws://127.0.0.1:${port}${ROUTES.ingest}` };
}

/** `nginx -t` on the setup: its exit status and output. */
export function checkNginxConfig(setup: NginxSetup): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile('nginx', ['-t', '-p', setup.prefix, '-c', setup.mainConf], (err, out, e) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error(MISSING));
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${out}${e}` });
    });
  });
}

/** nginx in the foreground as one process (so a SIGKILL after the test leaves nothing behind), listening. */
export async function startNginx(t: TestContext, setup: NginxSetup): Promise<void> {
  const tool = startForeground(
    t,
    'nginx',
    ['-p', setup.prefix, '-c', setup.mainConf, '-g', 'daemon off; master_process off;'],
    MISSING,
  );

  await pollUntil(
    () =>
      new Promise<true>((resolve, reject) => {
        const failed = tool.failure();
        if (failed) return reject(failed);
        const socket = net.connect(setup.port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', reject);
      }),
    'nginx to listen',
  ).catch((err: Error) => {
    throw tool.failure() ?? err;
  });
}
