/**
 * The container's HEALTHCHECK (Dockerfile): one GET of /health on this
 * instance's PORT, found through the service's own configuration (PORT, HOST
 * and SSL_* from the environment or CONFIG_FILE), so the probe follows whatever
 * the container is given. Exit 0 on 200 (`healthy` or `degraded`), 1 on
 * anything else or no answer within PROBE_TIMEOUT_MS. Node itself runs it: the
 * slim image has no curl or wget. An argument `/live` or `/ready` probes that
 * route instead, for a supervisor that restarts unhealthy containers
 * (docs/operations.md, "Container").
 */
import http from 'node:http';
import https from 'node:https';
import { loadConfig } from '../shared/config/config';
import { problemLine } from '../shared/config/config-report';
import { errorMessage } from '../shared/errors';
import { ROUTES } from '../shared/routes';

/** Below the Dockerfile's HEALTHCHECK --timeout, so the probe reports its own timeout (a test checks). */
export const PROBE_TIMEOUT_MS = 3000;

/** Docker's HEALTHCHECK contract: 0 healthy, 1 unhealthy (2 is reserved). */
const HEALTHY = 0;
const UNHEALTHY = 1;

/** The routes a probe may ask; /health unless told. */
const PROBED_ROUTES: readonly string[] = [ROUTES.health, ROUTES.live, ROUTES.ready];

/** The address a probe inside the host reaches a listener bound to `host` at. */
function probeAddress(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function probe(env: NodeJS.ProcessEnv, route: string): Promise<{ healthy: boolean; line: string }> {
  if (!PROBED_ROUTES.includes(route)) {
    return Promise.resolve({ healthy: false, line: `usage: health-probe.js [${PROBED_ROUTES.join(' | ')}]` });
  }
  const result = loadConfig(env);
  if (!result.ok) {
    const problems = result.problems.map(problemLine).join('; ');
    return Promise.resolve({ healthy: false, line: `configuration invalid: ${problems}` });
  }
  const { host, port, sslKeyPath, sslCertPath } = result.config;
  const tls = sslKeyPath !== '' && sslCertPath !== '';
  const options: https.RequestOptions = {
    host: probeAddress(host),
    port,
    path: route,
    agent: false,
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    // The probe asks whether this instance answers; the certificate is for clients (and validate-deployment).
    ...(tls ? { rejectUnauthorized: false } : {}),
  };
  const url = `${tls ? 'https' : 'http'}://${options.host}:${port}${route}`;
  return new Promise((resolve) => {
    const fail = (err: unknown): void => {
      const why = err instanceof Error && err.name === 'AbortError' ? `no answer within ${PROBE_TIMEOUT_MS} ms` : '';
      resolve({ healthy: false, line: `GET ${url}: ${why || errorMessage(err)}` });
    };
    const req = (tls ? https : http).get(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ healthy: res.statusCode === 200, line: `GET ${url}: ${res.statusCode} ${body}` }));
      res.on('error', fail);
    });
    req.on('error', fail);
  });
}

async function main(): Promise<void> {
  const { healthy, line } = await probe(process.env, process.argv[2] ?? ROUTES.health);
  // Docker keeps the probe's output in `docker inspect` (State.Health.Log).
  process.stdout.write(`${line}\n`);
  process.exitCode = healthy ? HEALTHY : UNHEALTHY;
}

if (require.main === module) void main();
