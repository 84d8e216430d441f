/**
 * When each stream of a worker thread sends, as real calls do: every stream
 * has its own phase within the frame interval, so the offered load is spread
 * evenly over each interval instead of every stream bursting on one shared
 * grid. The interval is cut into SLOTS_PER_INTERVAL slots; stream i's phase is
 * slot floor(i × SLOTS / N), and it starts at its ramp position rounded down
 * to the frame grid plus that phase. One timer walks the slots on absolute
 * time from the run's origin (t0 + k × slot), visiting only slots that hold
 * streams; frame `seq` of a stream is due at start + (seq − 1) × frame-ms.
 */

/** Slots per frame interval: 1 ms slots for 20 ms frames. */
export const SLOTS_PER_INTERVAL = 20;

export class PhaseSchedule {
  /** Each local stream's start (epoch ms), in the order of `indices`. */
  readonly startAt: Float64Array;
  readonly slotMs: number;
  /** Local stream positions by slot within the interval. */
  private readonly buckets: number[][];

  constructor(
    private readonly t0: number,
    private readonly frameMs: number,
    rampMs: number,
    streams: number,
    indices: readonly number[],
  ) {
    this.slotMs = frameMs / SLOTS_PER_INTERVAL;
    this.startAt = new Float64Array(indices.length);
    this.buckets = Array.from({ length: SLOTS_PER_INTERVAL }, () => []);
    indices.forEach((index, local) => {
      const slot = Math.floor((index * SLOTS_PER_INTERVAL) / streams);
      const ramp = Math.floor((rampMs * index) / streams / frameMs) * frameMs;
      this.startAt[local] = t0 + ramp + slot * this.slotMs;
      this.buckets[slot].push(local);
    });
  }

  /** When frame `seq` of local stream `local` falls due (epoch ms). */
  dueAt(local: number, seq: number): number {
    return this.startAt[local] + (seq - 1) * this.frameMs;
  }

  /** The highest seq of local stream `local` due by `at` (0 before its start). */
  dueSeq(local: number, at: number): number {
    const own = at - this.startAt[local];
    // A thousandth of a millisecond absorbs float error in slot times that are exactly a due time.
    return own < -1e-3 ? 0 : Math.floor((own + 1e-3) / this.frameMs) + 1;
  }

  /** When slot `k` begins (epoch ms). */
  slotAt(k: number): number {
    return this.t0 + k * this.slotMs;
  }

  /** The slot that holds time `at` (−1 before the origin). */
  slotOf(at: number): number {
    return Math.max(-1, Math.floor((at - this.t0 + 1e-3) / this.slotMs));
  }

  /** The first slot after `k` that holds streams (Infinity when the thread has none). */
  nextSlot(k: number): number {
    for (let step = 1; step <= SLOTS_PER_INTERVAL; step++) {
      if (this.buckets[(k + step) % SLOTS_PER_INTERVAL].length > 0) return k + step;
    }
    return Infinity;
  }

  /** The local streams whose phase is slot `k`. */
  streamsOf(k: number): readonly number[] {
    return this.buckets[k % SLOTS_PER_INTERVAL];
  }
}

/**
 * The walk over the slots a timer has reached: every slot after the last one
 * walked up to the one holding `now`, each phase at most once however late
 * the timer ran. `visit(local, dueSeq)` advances a stream and returns the
 * oldest seq it newly wrote (0 for none); the walk returns the tick's send lag:
 * when its last frame was written (the clock after the walk) − when the oldest
 * frame it newly sent fell due, or undefined when it sent nothing.
 */
export class SlotWalker {
  /** The last slot walked. */
  private slot = -1;

  constructor(
    private readonly phases: PhaseSchedule,
    private readonly clock: () => number,
  ) {}

  /** When the next slot that holds streams begins (Infinity for none). */
  nextAt(): number {
    return this.phases.slotAt(this.phases.nextSlot(this.slot));
  }

  walk(now: number, visit: (local: number, dueSeq: number) => number): { at: number; lagMs: number } | undefined {
    const phases = this.phases;
    const current = phases.slotOf(now);
    let oldestDue = Infinity;
    const first = Math.max(this.slot, current - SLOTS_PER_INTERVAL);
    for (let k = phases.nextSlot(first); k <= current; k = phases.nextSlot(k)) {
      for (const local of phases.streamsOf(k)) {
        const due = phases.dueSeq(local, now);
        if (due === 0) continue; // before its start
        const oldest = visit(local, due);
        if (oldest > 0) oldestDue = Math.min(oldestDue, phases.dueAt(local, oldest));
      }
    }
    this.slot = Math.max(this.slot, current);
    if (oldestDue === Infinity) return undefined;
    const at = this.clock();
    return { at, lagMs: Math.max(0, at - oldestDue) };
  }
}
