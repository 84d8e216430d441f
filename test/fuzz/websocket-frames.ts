/**
 * Hand-built WebSocket frames (RFC 6455 section 5.2), right or wrong on
 * purpose: any opcode, reserved bits, a FIN-less control frame, a length
 * field that lies, masked or not. The ws client library cannot send these.
 */
import { randomBytes } from 'node:crypto';

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer;
  /** Default true. */
  readonly fin?: boolean;
  /** RSV1..3 as bits 0b100, 0b010, 0b001. */
  readonly rsv?: number;
  /** Clients must mask (default true). */
  readonly masked?: boolean;
  /** Written in the length field instead of the payload's true length (a 64-bit value). */
  readonly declaredLength?: bigint;
}

export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const masked = spec.masked ?? true;
  const length = spec.declaredLength ?? BigInt(payload.length);
  const first = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f);
  let header: Buffer;
  if (length < 126n) header = Buffer.from([first, Number(length)]);
  else if (length < 65536n) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(length, 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  header[1] |= 0x80;
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([header, mask, body]);
}

/** A close frame's payload: the code, then the reason. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, Buffer.from(reason)]);
}

export interface ParsedFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** Reads whole server frames (unmasked) off the front of `data`; returns them and the rest. */
export function readFrames(data: Buffer): { frames: ParsedFrame[]; rest: Buffer } {
  const frames: ParsedFrame[] = [];
  let offset = 0;
  for (;;) {
    if (data.length - offset < 2) break;
    let length = data[offset + 1] & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      if (data.length - offset < 4) break;
      length = data.readUInt16BE(offset + 2);
      start = offset + 4;
    } else if (length === 127) {
      if (data.length - offset < 10) break;
      length = Number(data.readBigUInt64BE(offset + 2));
      start = offset + 10;
    }
    if (data.length < start + length) break;
    frames.push({ opcode: data[offset] & 0x0f, payload: data.subarray(start, start + length) });
    offset = start + length;
  }
  return { frames, rest: data.subarray(offset) };
}
