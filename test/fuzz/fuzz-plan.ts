/**
 * A run's cases, from its seed alone: how many of each kind, generated with
 * one FuzzRandom per case (so a case does not depend on the others) and
 * interleaved so that every kind meets every other on the workers at once.
 * The same seed gives the same plan: that is what makes FUZZ_SEED a replay.
 */
import type { MessageCase } from './fuzz-case';
import { FuzzRandom } from './fuzz-random';
import { nativeCase } from './native-cases';
import { frameCase, httpCase, type FrameCase, type HttpCase } from './raw-cases';
import { telephonyCase } from './telephony-cases';

/** The service's MAX_FRAME_BYTES in the fuzz run: small, so oversized frames are cheap to send. */
export const MAX_FRAME_BYTES = 4096;
/** ws's limit: max(MAX_FRAME_BYTES, 16 KiB) (src/worker/http/websocket-handshake.ts). */
export const MAX_MESSAGE_BYTES = 16 * 1024;
export const CASE_COUNTS = { native: 2600, exotel: 160, twilio: 160, frames: 500, http: 200 } as const;

export type FuzzCase = MessageCase | FrameCase | HttpCase;

export function generateCases(
  seed: number,
  counts: Readonly<Record<keyof typeof CASE_COUNTS, number>> = CASE_COUNTS,
): FuzzCase[] {
  const cases: FuzzCase[] = [];
  let index = 0;
  const next = (): FuzzRandom => FuzzRandom.forCase(seed, index++);
  const limits = { tenantId: 'tenant-a', maxFrameBytes: MAX_FRAME_BYTES, maxMessageBytes: MAX_MESSAGE_BYTES };
  for (let i = 0; i < counts.native; i++) cases.push(nativeCase(next(), index, limits));
  for (let i = 0; i < counts.exotel; i++) cases.push(telephonyCase(next(), index, 'exotel', limits));
  for (let i = 0; i < counts.twilio; i++) cases.push(telephonyCase(next(), index, 'twilio', limits));
  for (let i = 0; i < counts.frames; i++) cases.push(frameCase(next(), MAX_MESSAGE_BYTES));
  for (let i = 0; i < counts.http; i++) cases.push(httpCase(next()));
  const order = new FuzzRandom(seed);
  for (let i = cases.length - 1; i > 0; i--) {
    const j = order.int(0, i);
    [cases[i], cases[j]] = [cases[j], cases[i]];
  }
  return cases;
}
