#!/usr/bin/env node
/**
 * `npm run demo`: the browser demo in one command, for development only.
 * Without --url it starts the service's development setup (dev-service.ts)
 * and hands the page the token the primary made; with --url it points the page
 * at a service already running, with the token in INGEST_TOKEN (an environment
 * variable, not a flag: a flag shows in ps and the shell's history). Then it serves the page
 * (demo-server.ts) and prints its URL. Ctrl-C stops both.
 *
 * Exit codes: 0 stopped by a signal; 1 the service or the server failed;
 * 2 bad usage (also a --host that is not a loopback address: the page's server
 * hands out the token); 78 NODE_ENV=production (the demo serves a token to any page).
 */
import { parseArgs } from 'node:util';
import { EXIT } from '../../shared/process/exit-codes';
import { DemoServer, isLoopbackHost } from './demo-server';
import { DevService } from './dev-service';

const USAGE = `usage: [INGEST_TOKEN=<jwt>] npm run demo -- [--url <ws(s)://host:port/v1/ingest>] [--host 127.0.0.1] [--port 8090]
  Without --url, starts the service (npm start's setup, with this environment) and uses its development token.
  With --url, the page gets the token in INGEST_TOKEN. --host must be a loopback address.`;
const DEFAULT_PORT = 8090;
const USAGE_EXIT = 2;

export const PRODUCTION_REFUSAL =
  'npm run demo is a development tool: it hands a token to any page that asks, so it refuses to run with ' +
  'NODE_ENV=production';

async function main(): Promise<number> {
  if (process.env.NODE_ENV === 'production') {
    process.stderr.write(`error: ${PRODUCTION_REFUSAL}\n`);
    return EXIT.configInvalid;
  }
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: String(DEFAULT_PORT) },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n${USAGE}\n`);
    return USAGE_EXIT;
  }
  const port = Number(values.port);
  const token = process.env.INGEST_TOKEN;
  const problem = values.help
    ? ''
    : values.url !== undefined && !token
      ? 'error: --url needs the token in INGEST_TOKEN\n'
      : !isLoopbackHost(values.host)
        ? `error: --host ${values.host} is not a loopback address; the demo hands its token to whoever asks\n`
        : !Number.isInteger(port)
          ? `error: --port ${values.port} is not a port\n`
          : undefined;
  if (problem !== undefined) {
    process.stderr.write(`${problem}${USAGE}\n`);
    return values.help ? EXIT.ok : USAGE_EXIT;
  }

  const service = values.url ? undefined : new DevService(process.env, process.stdout);
  let server: DemoServer | undefined;
  const stop = async (): Promise<void> => {
    await server?.close();
    await service?.close();
  };
  try {
    const target = service ? await service.start() : { serviceUrl: values.url!, token: token! };
    const { serviceUrl } = target;
    server = new DemoServer({ serviceUrl, token: () => target.token, host: values.host, port });
    const pageUrl = await server.start();
    process.stdout.write(`demo: streaming to ${serviceUrl}\ndemo: open ${pageUrl} (Ctrl-C stops)\n`);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    await stop();
    return EXIT.failed;
  }
  const signalled = new Promise<number>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve(EXIT.ok));
  });
  const serviceEnded = service?.exited.then((code) => {
    process.stderr.write(`error: the service exited (${code})\n`);
    return EXIT.failed;
  });
  const code = await Promise.race([signalled, ...(serviceEnded ? [serviceEnded] : [])]);
  await stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT.failed);
  },
);
