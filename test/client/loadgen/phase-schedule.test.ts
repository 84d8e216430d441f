/**
 * The thread's schedule as pure logic on a fake clock: streams get phases
 * spread over the frame interval (not one shared grid), a stream's frames
 * fall due on its own phase, and a tick's send lag counts the time spent
 * inside the tick and the slots a late timer overran.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PhaseSchedule, SLOTS_PER_INTERVAL, SlotWalker } from '../../../src/client/loadgen/phase-schedule';

const T0 = 1_000_000;
const FRAME_MS = 20;

test('streams start on phases spread evenly over the interval, also without a ramp', () => {
  const streams = 40;
  const indices = Array.from({ length: streams }, (_, i) => i);
  const phases = new PhaseSchedule(T0, FRAME_MS, 0, streams, indices);
  const offsets = [...phases.startAt].map((at) => at - T0);
  assert.equal(new Set(offsets).size, SLOTS_PER_INTERVAL, 'every slot of the interval is used');
  for (const offset of offsets) assert.ok(offset >= 0 && offset < FRAME_MS, `offset ${offset} within one interval`);
  // Two streams per slot: no slot carries more than its share of the load.
  const perSlot = new Map<number, number>();
  for (const offset of offsets) perSlot.set(offset, (perSlot.get(offset) ?? 0) + 1);
  assert.deepEqual(new Set(perSlot.values()), new Set([2]));
});

test('a ramp that would put every stream on one grid still spreads their phases', () => {
  // 10 s over 500 streams is a start every 20 ms: the same phase for all on a shared grid.
  const indices = Array.from({ length: 500 }, (_, i) => i);
  const phases = new PhaseSchedule(T0, FRAME_MS, 10_000, 500, indices);
  const offsets = new Set([...phases.startAt].map((at) => (at - T0) % FRAME_MS));
  assert.equal(offsets.size, SLOTS_PER_INTERVAL);
  assert.ok(phases.startAt[499] - T0 <= 10_000, 'the last stream starts within the ramp');
  assert.ok(phases.startAt[499] - T0 >= 10_000 - 2 * FRAME_MS);
});

test("a stream's frame falls due on its own phase, and the walk advances it then, not a shared grid later", () => {
  const phases = new PhaseSchedule(T0, FRAME_MS, 0, 2, [0, 1]);
  const start1 = phases.startAt[1];
  assert.equal(start1 - T0, FRAME_MS / 2, 'stream 1 of 2 is half an interval in');
  let now = T0;
  const walker = new SlotWalker(phases, () => now);
  const seen: Array<[number, number]> = [];
  const visit = (local: number, due: number): number => {
    seen.push([local, due]);
    return 0;
  };
  walker.walk(now, visit);
  assert.deepEqual(seen, [[0, 1]], 'at the origin only stream 0 is due');
  assert.equal(walker.nextAt(), start1, 'the next timer is stream 1 own phase');
  now = start1;
  walker.walk(now, visit);
  assert.deepEqual(seen.at(-1), [1, 1], 'stream 1 sends frame 1 at its own start');
  assert.equal(phases.dueAt(1, 3), start1 + 2 * FRAME_MS);
});

test('send lag: time inside the tick and overrun slots are counted, from the oldest newly due frame', () => {
  const phases = new PhaseSchedule(T0, FRAME_MS, 0, 1, [0]);
  let now = T0;
  const walker = new SlotWalker(phases, () => now);
  const written: number[] = [];
  let due = 0;
  const advance = (_local: number, seq: number): number => {
    const oldest = seq > due ? due + 1 : 0;
    due = Math.max(due, seq);
    now += 7; // writing takes 7 ms
    written.push(seq);
    return oldest;
  };
  assert.deepEqual(walker.walk(now, advance), { at: T0 + 7, lagMs: 7 }, 'on time, but the writes took 7 ms');
  // The timer for frame 2 runs three intervals late: frames 2-5 go out at once, frame 2 was due at T0 + 20.
  now = T0 + 80;
  const late = walker.walk(now, advance)!;
  assert.deepEqual(written, [1, 5]);
  assert.equal(late.lagMs, 80 + 7 - 20);
  assert.equal(walker.walk(now, advance), undefined, 'a walk that sends nothing records no lag');
});
