/**
 * Checks for tests that drive a Publisher directly: waiting for its health to
 * reach a state (on its change events, never by polling), and assert.rejects
 * predicates for the errors the Publisher contract names.
 */
import assert from 'node:assert/strict';
import type { BackendHealthSnapshot, BackendState } from '../../src/shared/publishing/backend-health';
import { IngestError, PublishError } from '../../src/shared/errors';
import type { Publisher } from '../../src/shared/publishing/publisher';

const WAIT_MS = 10_000;

/** Resolves once the publisher's health satisfies `predicate`; rejects after `timeoutMs`. */
export function waitForHealth(
  publisher: Publisher,
  predicate: (health: BackendHealthSnapshot) => boolean,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<BackendHealthSnapshot> {
  const now = publisher.health();
  if (predicate(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`health never became ${what} within ${timeoutMs} ms (state ${publisher.health().state})`));
    }, timeoutMs);
    const unsubscribe = publisher.onHealthChange((health) => {
      if (!predicate(health)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(health);
    });
  });
}

export function stateIs(...states: BackendState[]): (health: BackendHealthSnapshot) => boolean {
  return (health) => states.includes(health.state);
}

/** An assert.rejects predicate: a PublishError with this retryable flag. */
export function isPublishError(retryable: boolean): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof PublishError, `expected a PublishError, got ${String(err)}`);
    assert.equal(err.retryable, retryable, `retryable should be ${retryable}: ${err.message}`);
    return true;
  };
}

/** An assert.rejects predicate: an IngestError with this code. */
export function isCode(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof IngestError, `expected an IngestError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}
