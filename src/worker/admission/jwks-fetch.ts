/**
 * One GET of the key set at JWT_JWKS_URL, bounded: one deadline for the whole
 * exchange (connect, answer, body), a cap on the body, no redirects followed,
 * no pooled connection left behind, and an AbortSignal that ends it at once
 * (the key source aborts it when it closes). Every failure is a
 * JwksFetchError whose `result` is the label it is counted under.
 */
import http from 'node:http';
import https from 'node:https';
import { errorMessage, IngestError } from '../../shared/errors';

/** A key set is a few kilobytes; a larger answer is not one (and must not fill the worker's memory). */
export const JWKS_MAX_BYTES = 1024 * 1024;

export type JwksFetchResult = 'timeout' | 'http_error' | 'network_error' | 'invalid' | 'aborted';

export class JwksFetchError extends IngestError {
  constructor(
    readonly result: JwksFetchResult,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('jwks_fetch_failed', message, options);
    this.name = 'JwksFetchError';
  }
}

export interface JwksFetchOptions {
  readonly timeoutMs: number;
  /** Aborts the fetch (the key source closing); its reason, when a JwksFetchError, is the rejection. */
  readonly signal?: AbortSignal;
  readonly maxBytes?: number;
}

/** Resolves with the parsed JSON body of a 2xx answer; rejects with a JwksFetchError. */
export function fetchJwks(url: string, options: JwksFetchOptions): Promise<unknown> {
  const maxBytes = options.maxBytes ?? JWKS_MAX_BYTES;
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new JwksFetchError('timeout', `no complete answer within ${options.timeoutMs} ms`)),
    options.timeoutMs,
  );
  const onOuterAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) onOuterAbort();
  return new Promise<unknown>((resolve, reject) => {
    const fail = (err: unknown): void => reject(classify(err, controller.signal));
    const target = new URL(url);
    const get = target.protocol === 'https:' ? https.request : http.request;
    const req = get(
      target,
      {
        method: 'GET',
        agent: false, // a fresh connection, closed after the answer: nothing pooled outlives the fetch
        signal: controller.signal,
        headers: { Accept: 'application/jwk-set+json, application/json', Connection: 'close' },
      },
      (res) => {
        res.on('error', fail);
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          res.resume();
          fail(new JwksFetchError('http_error', `HTTP ${status} from the key set URL`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= maxBytes) return void chunks.push(chunk);
          // Settle before destroying: an 'end' may already be queued, with what was read so far.
          fail(new JwksFetchError('invalid', `the answer is over ${maxBytes} bytes`));
          req.destroy();
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            fail(new JwksFetchError('invalid', 'the answer is not JSON'));
          }
        });
      },
    );
    req.on('error', fail);
    req.end();
  }).finally(() => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onOuterAbort);
  });
}

/** The error to report: the abort's reason when the fetch was aborted, else the failure itself. */
function classify(err: unknown, signal: AbortSignal): JwksFetchError {
  if (err instanceof JwksFetchError) return err;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof JwksFetchError ? reason : new JwksFetchError('aborted', 'the fetch was cancelled');
  }
  return new JwksFetchError('network_error', errorMessage(err), { cause: err });
}
