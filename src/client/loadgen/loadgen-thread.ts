/**
 * A load generator worker thread: plays its share of the streams, each on its
 * own phase within the frame interval (phase-schedule.ts), with one timer
 * walking the phase slots on absolute time from the run's origin. At each slot
 * the streams of that phase are told which seq their own clock has reached; a
 * late timer walks every slot it overran, so each stream sends every frame
 * due at once, and records the tick's send lag: when its last frame was
 * written − when the oldest frame it newly sent fell due (time spent inside
 * the tick and late or overrun slots included). Posts its tally to the main
 * thread every second and when its streams have finished.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LoopedAudioFrames, PatternFrames, type FrameSource } from './frame-content';
import type { LoadStream, StreamSettings } from './load-stream';
import { LoadTally, type MeasureWindow } from './load-tally';
import { NativeStream } from './native-stream';
import { PhaseSchedule, SlotWalker } from './phase-schedule';
import { StreamCredentials } from './stream-credentials';
import { TelephonyStream } from './telephony-stream';
import { interactionIdOf, type FromThread, type ThreadPlan, type ToThread } from './thread-messages';

const clock = (): number => performance.timeOrigin + performance.now();

class LoadThread {
  private readonly streams: LoadStream[] = [];
  private walker: SlotWalker | undefined;
  private tally: LoadTally | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private lastKeepalive = 0;
  private stopping = false;

  constructor(
    private readonly plan: ThreadPlan,
    private readonly post: (message: FromThread) => void,
  ) {}

  go(t0: number, window: MeasureWindow): void {
    const plan = this.plan;
    const phases = new PhaseSchedule(t0, plan.frameMs, plan.rampMs, plan.streams, plan.indices);
    this.walker = new SlotWalker(phases, clock);
    const tally = new LoadTally(window);
    this.tally = tally;
    const frames: FrameSource = plan.loopAudio
      ? new LoopedAudioFrames(
          Buffer.from(plan.loopAudio.buffer, plan.loopAudio.byteOffset, plan.loopAudio.length),
          plan.frameBytes,
        )
      : new PatternFrames(plan.frameBytes, plan.nonce);
    const settings: StreamSettings = {
      url: plan.url,
      frames,
      media: plan.media,
      frameMs: plan.frameMs,
      maxRate: plan.maxRate,
      windowFrames: plan.windowFrames,
      credentials: new StreamCredentials({ dialect: plan.dialect, url: plan.url, ...plan.credentials }),
      tally,
      clock,
      insecure: plan.insecure,
      retryUntil: window.end + plan.retryGraceMs,
    };
    plan.indices.forEach((index, local) => {
      const id = interactionIdOf(plan.interactionPrefix, index);
      this.streams.push(
        plan.dialect === 'native'
          ? new NativeStream(index, id, settings, phases.startAt[local])
          : new TelephonyStream(index, id, plan.dialect, settings),
      );
    });
    this.lastKeepalive = t0;
    this.progressTimer = setInterval(
      () => this.post({ type: 'progress', tally: tally.snapshot() }),
      plan.progressEveryMs,
    );
    this.schedule();
  }

  /** Ends the traffic: frames due by now go out, then every stream stops; the final tally follows. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.tickTimer);
    const tally = this.tally;
    if (!tally) {
      this.post({ type: 'final', tally: new LoadTally({ start: 0, end: 0 }).snapshot(), streams: [] });
      return;
    }
    this.walk(clock());
    for (const stream of this.streams) stream.stop();
    let deadline: NodeJS.Timeout | undefined;
    const patience = new Promise<void>((resolve) => (deadline = setTimeout(resolve, this.plan.finishTimeoutMs)));
    await Promise.race([Promise.all(this.streams.map((s) => s.whenFinished())), patience]);
    clearTimeout(deadline);
    for (const stream of this.streams) stream.giveUp();
    clearInterval(this.progressTimer);
    this.post({ type: 'final', tally: tally.snapshot(), streams: this.streams.map((s) => s.result()) });
  }

  /** The timer for the next slot that holds streams, on absolute time. */
  private schedule(): void {
    const at = this.walker!.nextAt();
    if (!Number.isFinite(at)) return; // a thread with no streams
    this.tickTimer = setTimeout(
      () => {
        // A timer that fires a hair early still runs its own slot.
        this.walk(Math.max(clock(), at));
        if (!this.stopping) this.schedule();
      },
      Math.max(0, at - clock()),
    );
  }

  private walk(now: number): void {
    const { idle, maxRate } = this.plan;
    const lag = this.walker!.walk(now, (local, due) => {
      const oldest = this.streams[local].advance(idle ? 0 : maxRate ? Number.MAX_SAFE_INTEGER : due);
      return maxRate ? 0 : oldest; // at --max-rate nothing falls due by the clock
    });
    if (lag) this.tally?.sendLag(lag.at, lag.lagMs);
    if (idle && now - this.lastKeepalive >= this.plan.keepaliveMs) {
      this.lastKeepalive = now;
      for (const stream of this.streams) stream.keepalive();
    }
  }
}

const port = parentPort;
if (port) {
  const thread = new LoadThread(workerData as ThreadPlan, (message) => port.postMessage(message));
  port.on('message', (message: ToThread) => {
    if (message.type === 'go') thread.go(message.t0, message.window);
    else void thread.stop(); // the main thread terminates this thread once it has the final tally
  });
  port.postMessage({ type: 'ready' } satisfies FromThread);
}
