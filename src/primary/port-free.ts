/**
 * Whether nothing listens on a port yet: the primary's start-up check and
 * `npm run validate:deployment` bind the same way, so they agree.
 */
import net from 'node:net';
import type { Config } from '../shared/config/config-schema';

/** Binds `host:port` exclusively and lets it go; false only when the address is in use. */
export async function isPortFree(port: number, host: string): Promise<boolean> {
  return (await bindError(port, host)) !== 'EADDRINUSE';
}

/** Why binding host:port fails (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, …); undefined when it succeeds. */
export function bindError(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/** The addresses the primary listens on, by the variable that sets each port. */
export function listenAddresses(
  config: Pick<Config, 'port' | 'host' | 'metricsPort' | 'metricsHost'>,
): ReadonlyArray<readonly [variable: 'PORT' | 'METRICS_PORT', port: number, host: string]> {
  return [
    ['PORT', config.port, config.host],
    ['METRICS_PORT', config.metricsPort, config.metricsHost],
  ];
}
