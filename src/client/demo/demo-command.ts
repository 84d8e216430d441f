#!/usr/bin/env node
/**
 * `npm run demo`: the browser demo in one command, for development only.
 * Without --url it starts the service's development setup (dev-service.ts)
 * and hands the page the token the primary made; with --url and --token it
 * points the page at a service already running. Then it serves the page
 * (demo-server.ts) and prints its URL. Ctrl-C stops both.
 *
 * Exit codes: 0 stopped by a signal; 1 the service or the server failed;
 * 2 bad usage; 78 NODE_ENV=production (the demo serves a token to any page).
 */
import { parseArgs } from 'node:util';
import { EXIT } from '../../shared/process/exit-codes';
import { DemoServer } from './demo-server';
import { DevService } from './dev-service';

const USAGE = `usage: npm run demo -- [--url <ws(s)://host:port/v1/ingest> --token <jwt>] [--host 127.0.0.1] [--port 8090]
  Without --url, starts the service (npm start's setup, with this environment) and uses its development token.`;
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
        token: { type: 'string' },
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
  if (values.help || (values.url !== undefined) !== (values.token !== undefined) || !Number.isInteger(port)) {
    process.stderr.write(`${values.help ? '' : 'error: --url and --token go together\n'}${USAGE}\n`);
    return values.help ? EXIT.ok : USAGE_EXIT;
  }

  const service = values.url ? undefined : new DevService(process.env, process.stdout);
  let server: DemoServer | undefined;
  const stop = async (): Promise<void> => {
    await server?.close();
    await service?.close();
  };
  try {
    const { serviceUrl, token } = service ? await service.start() : { serviceUrl: values.url!, token: values.token! };
    server = new DemoServer({ serviceUrl, token: () => token, host: values.host, port });
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
