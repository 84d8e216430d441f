/**
 * The key where the redis_streams adapter keeps the last frame seq it stored
 * for a sequence space, beside the stream key and always in the same Redis
 * Cluster slot (a script may only touch keys of one slot there):
 * - a stream key with a hash tag is the prefix itself (`ingest:{t-42}:audio:last_seq:…`),
 *   so the seq key's first tag is the stream key's;
 * - any other stream key becomes the tag (`{ingest:audio}:last_seq:…`), which
 *   hashes exactly as the whole stream key does;
 * - a stream key without a tag that holds a `}` (a tenant id with braces) cannot
 *   be wrapped: a short tag of the same slot is found instead, by trial.
 */
import { sequenceSpace, type AudioRecord } from '../records';
import { hashTagOf, keySlot, SLOTS } from './hash-slot';

/** The last-seq key of `record`'s sequence space, for records appended to `streamKey`. */
export function lastSeqKeyFor(streamKey: string, record: AudioRecord): string {
  return `${sameSlotPrefix(streamKey)}:last_seq:${sequenceSpace(record)}`;
}

function sameSlotPrefix(streamKey: string): string {
  if (hashTagOf(streamKey) !== undefined) return streamKey;
  if (streamKey.length > 0 && !streamKey.includes('}')) return `{${streamKey}}`;
  return `{${tagInSlot(keySlot(streamKey))}}:${streamKey}`;
}

/** Found tags by slot: the search runs once per slot, not once per record. At most SLOTS short strings. */
const tagsBySlot = new Map<number, string>();

/**
 * The first decimal tag that hashes to `slot` (every slot has one below 110000).
 * The search costs up to a few milliseconds, and such stream keys come from
 * tenant ids with braces, which would otherwise pay it on every audio record.
 */
function tagInSlot(slot: number): string {
  const known = tagsBySlot.get(slot);
  if (known !== undefined) return known;
  for (let n = 0; n < 1_000_000; n++) {
    if (keySlot(String(n)) === slot) {
      tagsBySlot.set(slot, String(n));
      return String(n);
    }
  }
  throw new Error(`no decimal hash tag for slot ${slot} of ${SLOTS}`);
}
