/**
 * G.711 expansion (ITU-T G.711, the reference decoder of the Sun/CCITT g711.c):
 * each 8-bit mu-law or A-law code to its 16-bit linear sample. Exact: the
 * decoded value of a code is fixed by the standard, so a test can compare it
 * sample for sample.
 */

/** One mu-law code to its linear sample (-32124 … 32124). */
export function mulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude | 0 : magnitude;
}

/** One A-law code to its linear sample (-32256 … 32256). */
export function alawToLinear(code: number): number {
  const a = (code ^ 0x55) & 0xff;
  const segment = (a & 0x70) >> 4;
  let magnitude = (a & 0x0f) << 4;
  if (segment === 0) magnitude += 8;
  else magnitude = (magnitude + 0x108) << (segment - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

const MULAW_TABLE = Int16Array.from({ length: 256 }, (_, code) => mulawToLinear(code));
const ALAW_TABLE = Int16Array.from({ length: 256 }, (_, code) => alawToLinear(code));

/** Companded bytes to 16-bit little-endian PCM (two bytes out per byte in). */
export function expandG711(encoding: 'mulaw' | 'alaw', bytes: Uint8Array): Buffer {
  const table = encoding === 'mulaw' ? MULAW_TABLE : ALAW_TABLE;
  const out = Buffer.allocUnsafe(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) out.writeInt16LE(table[bytes[i]], i * 2);
  return out;
}
