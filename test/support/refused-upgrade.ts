import assert from 'node:assert/strict';
import { UpgradeRefused, type IngestClient } from '../../src/client/ingest-client';

/** Waits for an upgrade that must be refused at the HTTP upgrade with `status` and `code`; returns the refusal. */
export async function refusedUpgrade(
  attempt: Promise<IngestClient>,
  status: number,
  code: string,
): Promise<UpgradeRefused> {
  const outcome = await attempt.then(
    (client) => {
      client.ws.terminate();
      return assert.fail(`the upgrade was accepted (expected ${status} ${code})`);
    },
    (err: unknown) => err,
  );
  assert.ok(outcome instanceof UpgradeRefused, `refused at the HTTP upgrade (got ${String(outcome)})`);
  assert.equal(outcome.status, status, outcome.message);
  assert.equal(outcome.body.error, code);
  return outcome;
}
