/**
 * The frame buffer copies each frame into one per-stream slab that becomes the
 * record's payload: the payload must hold the frames' bytes in order and never
 * alias ws's read chunks, and its memory must stay close to its bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIRST_SLAB_BYTES, FrameBuffer } from '../../../src/worker/stream/frame-buffer';

function fill(buffer: FrameBuffer, frames: number, bytes: number, firstSeq = 1): Buffer[] {
  const added: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const frame = Buffer.alloc(bytes, (firstSeq + i) % 256);
    buffer.add(frame, firstSeq + i, 0);
    added.push(frame);
  }
  return added;
}

test('the payload holds every frame in order, copied: a frame changed after add() does not change it', () => {
  const buffer = new FrameBuffer();
  const chunk = Buffer.from([1, 2, 3, 4, 5, 6]);
  // Two frames that are views of one socket read chunk, as ws hands them over.
  buffer.add(chunk.subarray(0, 2), 1, 0);
  buffer.add(chunk.subarray(2, 6), 2, 0);
  chunk.fill(0);
  const payload = buffer.takePayload();
  assert.deepEqual([...payload], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([buffer.count, buffer.bytes], [0, 0]);
});

test('a record larger than the first slab grows it and keeps every byte', () => {
  const buffer = new FrameBuffer();
  const frames = fill(buffer, Math.ceil((3 * FIRST_SLAB_BYTES) / 320), 320);
  const payload = buffer.takePayload();
  assert.equal(payload.length, frames.length * 320);
  assert.ok(payload.equals(Buffer.concat(frames)));
});

test("a steady stream's slab is sized by its last record: no copy, at most a sixteenth of slack", () => {
  const buffer = new FrameBuffer();
  fill(buffer, 150, 320);
  buffer.takePayload();
  // One frame more than the last record (a flush timer that fired late) still fits.
  const frames = fill(buffer, 151, 320, 151);
  const payload = buffer.takePayload();
  assert.ok(payload.equals(Buffer.concat(frames)));
  assert.equal(payload.byteOffset, 0);
  assert.equal(payload.buffer.byteLength, 150 * 320 + ((150 * 320) >>> 4), 'the slab the record was copied into');
});

test('a record cut short is copied to its size: its payload never pins a slab twice its bytes', () => {
  const buffer = new FrameBuffer();
  fill(buffer, 150, 320);
  buffer.takePayload();
  const frames = fill(buffer, 3, 320, 151); // a stop, a gap or a dtmf event after 3 frames
  const payload = buffer.takePayload();
  assert.ok(payload.equals(Buffer.concat(frames)));
  assert.equal(payload.buffer.byteLength, 3 * 320);
});

test("a payload never lies in Buffer's shared pool, where it would keep other buffers' memory alive", () => {
  const buffer = new FrameBuffer();
  buffer.add(Buffer.from([9]), 1, 0);
  const payload = buffer.takePayload();
  assert.deepEqual([payload.byteOffset, payload.buffer.byteLength], [0, 1]);
});
