/**
 * One plain HTTP GET on a fresh connection (no agent, no keep-alive), so that
 * a test's probe never leaves an idle socket on a worker that is shutting down
 * and never keeps the test process alive. Also a bounded poll for a condition
 * over such probes.
 */
import http from 'node:http';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Time from the request to the end of the answer. */
  readonly elapsedMs: number;
}

export function httpGet(url: string, timeoutMs = 30_000): Promise<HttpAnswer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { Connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, elapsedMs: Date.now() - started }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * Calls `probe` every `intervalMs` until it returns a value (not undefined),
 * and resolves with it; rejects after `timeoutMs` with `what` and the last
 * probe's outcome. Probe errors count as "not yet".
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastOutcome = 'no probe ran';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastOutcome = 'condition not met';
    } catch (err) {
      lastOutcome = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last probe: ${lastOutcome})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
