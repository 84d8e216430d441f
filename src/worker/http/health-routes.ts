/**
 * The worker's plain HTTP routes, for probes and load balancers: /health
 * (503 when unhealthy), /ready (503 while not ready), /live, and JSON 404 and
 * 405 answers for everything else. Every 503 carries Retry-After (retry-after.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { healthHttpStatus, type HealthBody } from '../../shared/health/health-status';
import { ROUTES, routePath } from '../../shared/routes';
import { retryAfterHeaders } from '../../shared/retry-after';

/** What the routes report on: the worker's health, readiness and state. */
export interface HealthProbe {
  health(): HealthBody;
  ready(): boolean;
  readonly serverState: string;
}

export class HealthRoutes {
  constructor(private readonly probe: HealthProbe) {}

  /** The listener's 'request' handler. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const path = routePath(req.url);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendJson(res, 405, { error: 'method_not_allowed', message: 'only GET is served' });
    switch (path) {
      case ROUTES.health: {
        const body = this.probe.health();
        return sendJson(res, healthHttpStatus(body), body);
      }
      case ROUTES.ready:
        return this.probe.ready()
          ? sendJson(res, 200, { ready: true })
          : sendJson(res, 503, { ready: false, state: this.probe.serverState });
      case ROUTES.live:
        return sendJson(res, 200, { live: true });
      default:
        return sendJson(res, 404, { error: 'not_found', message: `no route for ${path}` });
    }
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...retryAfterHeaders(status),
  });
  res.end(text);
}
