/**
 * Every path the service answers on, public and internal. The wire contract
 * (docs/protocol.md) and the operations guide name the same paths.
 */
export const ROUTES = Object.freeze({
  /** Native streams, and Exotel without a bearer token. */
  ingest: '/v1/ingest',
  exotel: '/v1/exotel',
  twilio: '/v1/twilio',
  health: '/health',
  ready: '/ready',
  live: '/live',
  /** On METRICS_PORT only. */
  metrics: '/metrics',
});

/** The path of a request URL, without its query string. */
export function routePath(url: string | undefined): string {
  return (url ?? '/').split('?', 1)[0];
}
