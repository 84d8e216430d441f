/**
 * validate:deployment's port check: PORT and METRICS_PORT must be free to
 * bind, the same bind test the primary makes before it forks anything.
 */
import { isPortFree, listenAddresses } from '../port-free';
import { configuredOr, runProbe, type Verdict } from './verdict';

runProbe(() =>
  configuredOr(async (config): Promise<Verdict> => {
    const addresses = listenAddresses(config);
    const taken: string[] = [];
    for (const [variable, port, host] of addresses) {
      if (!(await isPortFree(port, host))) taken.push(`${variable} ${port} is already in use on ${host}`);
    }
    if (taken.length > 0) {
      return {
        level: 'red',
        message:
          `${taken.join('; ')}: stop what listens there (\`ss -ltnp\` names it; an ingest still running?) ` +
          'or change the port',
      };
    }
    return {
      level: 'green',
      message: addresses.map(([variable, port, host]) => `${variable} ${host}:${port}`).join(' and ') + ' are free',
    };
  }),
);
