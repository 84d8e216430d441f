/**
 * Generates the cases below the protocol messages: broken WebSocket framing
 * written on a raw TCP socket after a valid handshake, and broken HTTP
 * upgrades. The ends are ws's own close codes (RFC 6455 section 7.4.1: 1002
 * protocol error, 1007 invalid UTF-8, 1009 too big) and the HTTP statuses of
 * docs/protocol.md 1.1 and http-listener.ts (a malformed request gets 400).
 */
import type { FuzzRandom } from './fuzz-random';
import { closePayload, encodeFrame, OPCODE } from './websocket-frames';

export interface FrameCase {
  readonly kind: 'frames';
  readonly label: string;
  /** Send a valid start (and see `started`) first, so that a live stream meets the garbage. */
  readonly afterStart: boolean;
  /** Written as separate writes, to cross frame boundaries. */
  readonly writes: readonly Buffer[];
  readonly expect: { readonly codes: readonly number[] };
}

export interface HttpCase {
  readonly kind: 'http';
  readonly label: string;
  /** The request head, with `TOKEN` replaced by a valid bearer token. */
  readonly request: string;
  readonly expect: { readonly statuses: readonly number[] };
}

const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xa0, 0xa1]),
  Buffer.from([0xe2, 0x28, 0xa1]),
  Buffer.from([0xf0, 0x28, 0x8c, 0x28]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf5, 0x80, 0x80, 0x80]),
  Buffer.from([0xff]),
  Buffer.from('{"type":"start","interaction_id":"\xff"}', 'latin1'),
];

function text(value: string | Buffer, fin = true): Buffer {
  return encodeFrame({ opcode: OPCODE.text, payload: Buffer.from(value), fin });
}

function splitRandomly(rng: FuzzRandom, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const size = rng.int(1, Math.max(1, Math.ceil(data.length / 2)));
    out.push(data.subarray(at, at + size));
    at += size;
  }
  return out;
}

export function frameCase(rng: FuzzRandom, maxMessageBytes: number): FrameCase {
  const afterStart = rng.chance(0.5);
  const choices: Array<() => [string, Buffer, number[]]> = [
    () => {
      const opcode = rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]);
      return [`opcode ${opcode}`, encodeFrame({ opcode, payload: rng.bytes(rng.int(0, 10)) }), [1002]];
    },
    () => {
      const rsv = rng.int(1, 7);
      const opcode = rng.pick([OPCODE.text, OPCODE.binary, OPCODE.ping]);
      return [`rsv ${rsv} on opcode ${opcode}`, encodeFrame({ opcode, rsv, payload: Buffer.from('{}') }), [1002]];
    },
    () => {
      const opcode = rng.pick([OPCODE.ping, OPCODE.pong, OPCODE.close]);
      return [
        `fragmented control frame ${opcode}`,
        encodeFrame({ opcode, fin: false, payload: Buffer.from('x') }),
        [1002],
      ];
    },
    () => {
      const opcode = rng.pick([OPCODE.ping, OPCODE.pong, OPCODE.close]);
      const size = rng.int(126, 2000);
      return [`control frame ${opcode} of ${size} bytes`, encodeFrame({ opcode, payload: rng.bytes(size) }), [1002]];
    },
    () => {
      const bad = rng.pick(INVALID_UTF8);
      return [`invalid UTF-8 text ${bad.toString('hex')}`, text(bad), [1007]];
    },
    () => {
      // Valid UTF-8 cut inside a character at a fragment boundary, then never completed right.
      const frames = Buffer.concat([
        text(Buffer.from([0x7b, 0xe2, 0x82]), false),
        encodeFrame({ opcode: 0, payload: Buffer.from([0x28]) }),
      ]);
      return ['invalid UTF-8 across fragments', frames, [1007]];
    },
    () => [
      `invalid UTF-8 in a close reason`,
      encodeFrame({ opcode: OPCODE.close, payload: closePayload(1000, Buffer.from([0xff, 0xfe])) }),
      [1007],
    ],
    () => {
      const opcode = rng.pick([OPCODE.text, OPCODE.binary, OPCODE.ping]);
      return [
        `unmasked opcode ${opcode}`,
        encodeFrame({ opcode, masked: false, payload: Buffer.from('{"type":"keepalive"}') }),
        [1002],
      ];
    },
    () => [
      'continuation without a message',
      encodeFrame({ opcode: OPCODE.continuation, payload: Buffer.from('x') }),
      [1002],
    ],
    () => [
      'new message inside a fragmented one',
      Buffer.concat([text('{"type":', false), text('"keepalive"}')]),
      [1002],
    ],
    () => {
      const code = rng.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]);
      return [`close with code ${code}`, encodeFrame({ opcode: OPCODE.close, payload: closePayload(code) }), [1002]];
    },
    () => ['close with a 1-byte payload', encodeFrame({ opcode: OPCODE.close, payload: Buffer.from([3]) }), [1002]],
    () => {
      const code = rng.pick([1000, 1001, 3000, 4000, 4999]);
      // A valid close is answered with the same code (RFC 6455 5.5.1).
      return [`valid close ${code}`, encodeFrame({ opcode: OPCODE.close, payload: closePayload(code, 'bye') }), [code]];
    },
    () => {
      const length = rng.pick([BigInt(maxMessageBytes + 1), 2n ** 32n, 2n ** 53n, 2n ** 63n]);
      const opcode = rng.pick([OPCODE.text, OPCODE.binary]);
      // Refused from the header alone: nothing more is sent.
      return [`declared length ${length}`, encodeFrame({ opcode, declaredLength: length }), [1009]];
    },
    () => {
      const piece = Math.ceil(maxMessageBytes / 3) + 1;
      const frames = Buffer.concat([
        encodeFrame({ opcode: OPCODE.binary, fin: false, payload: rng.bytes(piece) }),
        encodeFrame({ opcode: OPCODE.continuation, fin: false, payload: rng.bytes(piece) }),
        encodeFrame({ opcode: OPCODE.continuation, payload: rng.bytes(piece) }),
      ]);
      return [`fragmented message over ${maxMessageBytes} bytes`, frames, [1009]];
    },
    () => {
      // Pings and pongs interleaved in a fragmented message are legal; the message then breaks UTF-8.
      const frames = Buffer.concat([
        text('{"type":"keep', false),
        encodeFrame({ opcode: OPCODE.ping, payload: rng.bytes(rng.int(0, 125)) }),
        encodeFrame({ opcode: OPCODE.pong, payload: rng.bytes(rng.int(0, 125)) }),
        encodeFrame({ opcode: OPCODE.continuation, payload: Buffer.from([0xc0, 0x80]) }),
      ]);
      return ['control frames inside a fragmented message, then invalid UTF-8', frames, [1007]];
    },
  ];
  const [label, bytes, codes] = rng.pick(choices)();
  const writes = rng.chance(0.5) ? splitRandomly(rng, bytes) : [bytes];
  return {
    kind: 'frames',
    label: `${label}${afterStart ? ' after start' : ''}`,
    afterStart,
    writes,
    expect: { codes },
  };
}

const HEAD = 'GET /v1/ingest HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n';
const WS_HEADERS = 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const AUTH = 'Authorization: Bearer TOKEN\r\n';

export function httpCase(rng: FuzzRandom): HttpCase {
  const choices: Array<() => [string, string, number[]]> = [
    () => {
      const size = rng.int(17, 64) * 1024;
      return [`a ${size}-byte header`, `${HEAD}${WS_HEADERS}${AUTH}X-Pad: ${'p'.repeat(size)}\r\n\r\n`, [431]];
    },
    () => {
      const count = rng.int(2100, 4000);
      const many = Array.from({ length: count }, (_, i) => `X-H${i}: v\r\n`).join('');
      return [`${count} headers`, `${HEAD}${WS_HEADERS}${AUTH}${many}\r\n`, [431]];
    },
    () => ['a malformed request line', `GET /v1/ingest HTTP/9\x00\r\n${WS_HEADERS}\r\n`, [400]],
    () => ['a header without a colon', `${HEAD}${WS_HEADERS}${AUTH}NoColonHere\r\n\r\n`, [400]],
    () => ['no token', `${HEAD}${WS_HEADERS}\r\n`, [401]],
    () => [
      'a garbage token',
      `${HEAD}${WS_HEADERS}Authorization: Bearer ${'x.y.z'.repeat(rng.int(1, 100))}\r\n\r\n`,
      [401],
    ],
    () => [
      'an unknown path',
      HEAD.replace('/v1/ingest', `/v1/${'z'.repeat(rng.int(1, 2000))}`) + `${WS_HEADERS}${AUTH}\r\n`,
      [404],
    ],
    () => [
      'Sec-WebSocket-Version 12',
      `${HEAD}Sec-WebSocket-Version: 12\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${AUTH}\r\n`,
      [400],
    ],
    () => ['no Sec-WebSocket-Key', `${HEAD}Sec-WebSocket-Version: 13\r\n${AUTH}\r\n`, [400]],
    () => [
      'a bad Sec-WebSocket-Key',
      `${HEAD}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n${AUTH}\r\n`,
      [400],
    ],
  ];
  const [label, request, statuses] = rng.pick(choices)();
  return { kind: 'http', label, request, expect: { statuses } };
}
