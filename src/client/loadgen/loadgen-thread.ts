/**
 * A load generator worker thread: plays its share of the streams on one
 * ticker that follows an absolute frame-ms grid from the run's origin. On each
 * tick every stream is told which seq its own clock (its start spread over
 * the ramp) has reached, so a late tick sends every frame due at once and the
 * lag (how late the tick ran) is recorded, not compounded: slots a late tick
 * overran are skipped rather than run back to back. Posts its tally to the
 * main thread every second and when its streams have finished.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LoopedAudioFrames, PatternFrames, type FrameSource } from './frame-content';
import type { LoadStream, StreamSettings } from './load-stream';
import { LoadTally, type MeasureWindow } from './load-tally';
import { NativeStream } from './native-stream';
import { StreamCredentials } from './stream-credentials';
import { TelephonyStream } from './telephony-stream';
import { interactionIdOf, type FromThread, type ThreadPlan, type ToThread } from './thread-messages';

/** Idle streams send a keepalive this often (the server's IDLE_TIMEOUT_MS defaults to 60 s). */
const KEEPALIVE_EVERY_MS = 15_000;

const clock = (): number => performance.timeOrigin + performance.now();

class LoadThread {
  private readonly streams: LoadStream[];
  private readonly startAt: number[];
  private tally: LoadTally | undefined;
  private t0 = 0;
  private tickNo = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private lastKeepalive = 0;
  private stopping = false;

  constructor(
    private readonly plan: ThreadPlan,
    private readonly post: (message: FromThread) => void,
  ) {
    this.streams = [];
    this.startAt = [];
  }

  go(t0: number, window: MeasureWindow): void {
    const plan = this.plan;
    this.t0 = t0;
    const tally = new LoadTally(window);
    this.tally = tally;
    const frames: FrameSource = plan.loopAudio
      ? new LoopedAudioFrames(
          Buffer.from(plan.loopAudio.buffer, plan.loopAudio.byteOffset, plan.loopAudio.length),
          plan.frameBytes,
        )
      : new PatternFrames(plan.frameBytes);
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
    };
    for (const index of plan.indices) {
      const id = interactionIdOf(plan.interactionPrefix, index);
      this.streams.push(
        plan.dialect === 'native'
          ? new NativeStream(index, id, settings)
          : new TelephonyStream(index, id, plan.dialect, settings),
      );
      this.startAt.push(t0 + Math.floor((plan.rampMs * index) / plan.streams));
    }
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
    this.tick(clock());
    for (const stream of this.streams) stream.stop();
    let deadline: NodeJS.Timeout | undefined;
    const patience = new Promise<void>((resolve) => (deadline = setTimeout(resolve, this.plan.finishTimeoutMs)));
    await Promise.race([Promise.all(this.streams.map((s) => s.whenFinished())), patience]);
    clearTimeout(deadline);
    for (const stream of this.streams) stream.giveUp();
    clearInterval(this.progressTimer);
    this.post({ type: 'final', tally: tally.snapshot(), streams: this.streams.map((s) => s.result()) });
  }

  /** The next tick at the next slot of the absolute grid; slots a late tick overran are skipped. */
  private schedule(): void {
    const frameMs = this.plan.frameMs;
    const elapsed = clock() - this.t0;
    this.tickNo = Math.max(this.tickNo + 1, Math.floor(elapsed / frameMs) + 1);
    const at = this.t0 + this.tickNo * frameMs;
    this.tickTimer = setTimeout(
      () => {
        const now = clock();
        this.tally?.lag.record(Math.max(0, now - at));
        this.tick(now);
        if (!this.stopping) this.schedule();
      },
      Math.max(0, at - clock()),
    );
  }

  private tick(now: number): void {
    const { frameMs, idle, maxRate } = this.plan;
    for (let i = 0; i < this.streams.length; i++) {
      const own = now - this.startAt[i];
      if (own < 0) continue;
      this.streams[i].advance(idle ? 0 : maxRate ? Number.MAX_SAFE_INTEGER : Math.floor(own / frameMs) + 1);
    }
    if (idle && now - this.lastKeepalive >= KEEPALIVE_EVERY_MS) {
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
