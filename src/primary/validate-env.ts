/**
 * `npm run validate:env`: checks the configuration the service would start with
 * (environment plus CONFIG_FILE) and prints every problem at once. Starts
 * nothing. Exit status: 0 when the configuration is valid, 78 (EX_CONFIG) when not.
 */
import { loadConfig } from '../shared/config/config';
import { formatConfigReport } from '../shared/config/config-report';
import { EXIT } from '../shared/process/exit-codes';

function main(): void {
  const result = loadConfig(process.env);
  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  process.stdout.write(formatConfigReport(result, { color }));
  // exitCode, not exit(): stdout may be a pipe that has not drained yet.
  process.exitCode = result.ok ? EXIT.ok : EXIT.configInvalid;
}

if (require.main === module) main();
