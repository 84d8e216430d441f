/**
 * Redis Cluster's key-to-slot rule (the cluster specification's "Hash tags"):
 * a key's slot is CRC16 of its hash tag, or of the whole key when it has none,
 * modulo 16384. The adapter needs it to put the last-seq key in the stream
 * key's slot, which a script touching both keys requires on a cluster.
 */

export const SLOTS = 16384;

/**
 * The hash tag of a key: what lies between its first `{` and the first `}`
 * after it, when that is not empty; undefined otherwise (the whole key is hashed).
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

/** CRC16/XMODEM (polynomial 0x1021, initial 0), the checksum the cluster uses. */
function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The slot Redis Cluster assigns to `key` (as `CLUSTER KEYSLOT` answers). */
export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTagOf(key) ?? key, 'utf8')) % SLOTS;
}
