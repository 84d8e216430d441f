/**
 * `npm run validate:env`: checks the configuration the service would start with
 * (environment plus CONFIG_FILE) and prints every problem at once. Starts
 * nothing. Exit status: 0 when the configuration is valid, 78 (EX_CONFIG) when not.
 * `npm run build`'s prebuild step (ops/prebuild.js) runs `checkEnvironment` from the sources, report-only.
 */
import { loadConfig } from '../shared/config/config';
import { formatConfigReport } from '../shared/config/config-report';
import { EXIT } from '../shared/process/exit-codes';

/** The report of the configuration `env` gives, and whether the service would start with it. */
export function checkEnvironment(env: NodeJS.ProcessEnv, opts: { color: boolean }): { ok: boolean; report: string } {
  const result = loadConfig(env);
  return { ok: result.ok, report: formatConfigReport(result, opts) };
}

function main(): void {
  const { ok, report } = checkEnvironment(process.env, {
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  });
  process.stdout.write(report);
  // exitCode, not exit(): stdout may be a pipe that has not drained yet.
  process.exitCode = ok ? EXIT.ok : EXIT.configInvalid;
}

if (require.main === module) main();
