/**
 * The primary's internal HTTP listener on METRICS_PORT (never the public
 * PORT): GET /metrics, the whole cluster aggregated; GET /health, the cluster
 * health. Scrapes are bounded by the aggregation timeout.
 */
import http from 'node:http';
import type { Logger } from 'pino';
import { IngestError } from '../../shared/errors';
import { healthHttpStatus, type HealthBody } from '../../shared/health/health-status';
import { ROUTES, routePath } from '../../shared/routes';
import { retryAfterHeaders } from '../../shared/retry-after';

export interface MetricsEndpoints {
  readonly metrics: () => Promise<string>;
  readonly contentType: string;
  readonly health: () => HealthBody;
}

export class MetricsServer {
  private readonly server: http.Server;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly endpoints: MetricsEndpoints,
    private readonly logger: Logger,
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Resolves with the port bound, once listening. */
  start(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onStartError = (err: NodeJS.ErrnoException): void =>
        reject(
          err.code === 'EADDRINUSE' ? new IngestError('port_in_use', `METRICS_PORT ${port} is already in use`) : err,
        );
      this.server.once('error', onStartError);
      this.server.listen(port, host, () => {
        // Listening: a later error is logged, never taken for a failed start (nor left unhandled).
        this.server.off('error', onStartError);
        this.server.on('error', (err) => this.logger.error({ err }, 'metrics listener error'));
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Idempotent: every call gets the same promise. */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = routePath(req.url);
    if (path === ROUTES.metrics) {
      try {
        const text = await this.endpoints.metrics();
        res.writeHead(200, { 'Content-Type': this.endpoints.contentType });
        res.end(text);
      } catch (err) {
        this.logger.error({ err }, 'metrics scrape failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('metrics aggregation failed\n');
      }
      return;
    }
    if (path === ROUTES.health) {
      const body = this.endpoints.health();
      const status = healthHttpStatus(body);
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-store',
        ...retryAfterHeaders(status),
      });
      res.end(JSON.stringify(body));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({ error: 'not_found', message: `no route for ${path}; this port serves /metrics and /health` }),
    );
  }
}
