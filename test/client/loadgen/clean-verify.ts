/**
 * The read-back of a clean run: every frame found once, in order, byte for
 * byte, nothing missing, foreign or unreadable. Tests that expect one compare
 * with this, so a field the verifier gains is added in one place.
 */
import type { VerifySummary } from '../../../src/client/loadgen/frame-verifier';

export function cleanVerify(records: number, framesFound: number): VerifySummary {
  return {
    records,
    frames_found: framesFound,
    missing: 0,
    missing_committed: 0,
    duplicated: 0,
    out_of_order: 0,
    corrupt: 0,
    foreign: 0,
    records_before_run: 0,
    unreadable: 0,
  };
}
