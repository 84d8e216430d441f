/**
 * validate:deployment's port check: PORT and METRICS_PORT must be free to
 * bind, the same bind test the primary makes before it forks anything. Here
 * any failure is red, not only a port in use: a port below 1024 without the
 * right (EACCES) or a HOST this machine lacks (EADDRNOTAVAIL) stops the start
 * just the same.
 */
import { bindError, listenAddresses } from '../port-free';
import { configuredOr, runProbe, type Verdict } from './verdict';

runProbe(() =>
  configuredOr(async (config): Promise<Verdict> => {
    const addresses = listenAddresses(config);
    const taken: string[] = [];
    for (const [variable, port, host] of addresses) {
      const error = await bindError(port, host);
      if (error === 'EADDRINUSE') taken.push(`${variable} ${port} is already in use on ${host}`);
      else if (error !== undefined) taken.push(`${variable} ${port} cannot be bound on ${host} (${error})`);
    }
    if (taken.length > 0) {
      return {
        level: 'red',
        message:
          `${taken.join('; ')}: stop what listens there (\`ss -ltnp\` names it; an ingest still running?), ` +
          'change the port or HOST, or give the user the right to bind it',
      };
    }
    return {
      level: 'green',
      message: addresses.map(([variable, port, host]) => `${variable} ${host}:${port}`).join(' and ') + ' are free',
    };
  }),
);
