/**
 * The chaos run's steady load: N streams of one 320-byte frame every 20 ms,
 * scheduled by absolute time. One ticker serves every stream; on each tick a
 * stream is told which seq its clock has reached, so a late tick sends the
 * missed frames at once (a real-time source does not slow down because its
 * sender was late). Streams start spread over a ramp, to spare the service a
 * connection storm that is not the point of the run.
 *
 * It measures how late its own ticks run (send lag): when the generator
 * falls behind, the load offered is no longer real time, and the report says so.
 */
import { FRAME_INTERVAL_MS } from './chaos-frames';
import { LoadClient } from './load-client';
import type { SeededRandom } from './seeded-random';

export interface LoadGeneratorOptions {
  readonly streams: number;
  readonly url: string;
  /** A signed token for stream `index` (its interaction id may be a claim). */
  readonly token: (interactionId: string) => string;
  readonly interactionPrefix: string;
  readonly random: SeededRandom;
  /** Streams start over this long. */
  readonly rampMs: number;
}

export interface LagWindow {
  readonly ticks: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export class LoadGenerator {
  readonly clients: LoadClient[];
  private readonly startOffsets: number[];
  private startedAt = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private tickNo = 0;
  private lags: number[] = [];
  private allLags: number[] = [];
  private stopped = false;

  constructor(private readonly options: LoadGeneratorOptions) {
    this.clients = Array.from({ length: options.streams }, (_, index) => {
      const interactionId = `${options.interactionPrefix}-${index}`;
      return new LoadClient({
        index,
        interactionId,
        url: options.url,
        token: options.token(interactionId),
        random: options.random,
      });
    });
    this.startOffsets = this.clients.map((_, i) => Math.floor((options.rampMs * i) / Math.max(1, options.streams)));
  }

  start(): void {
    this.startedAt = performance.now();
    this.schedule();
  }

  /** Stops generating frames and asks every stream to stop once it has sent what was due. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.tickTimer);
    this.tick(performance.now());
    for (const client of this.clients) client.stop();
  }

  /** Terminates the connections of `count` random streaming clients; returns how many were dropped. */
  dropClients(count: number): number {
    const streaming = this.clients.filter((c) => c.state === 'streaming');
    let dropped = 0;
    for (const client of this.options.random.shuffle(streaming).slice(0, count)) {
      if (client.dropConnection()) dropped++;
    }
    return dropped;
  }

  /** The ticks' lateness since the last call (for progress lines). */
  takeLagWindow(): LagWindow {
    const window = summarise(this.lags);
    this.lags = [];
    return window;
  }

  /** The ticks' lateness over the whole run. */
  lagOverall(): LagWindow {
    return summarise(this.allLags);
  }

  /**
   * Next tick at the next 20 ms slot of the absolute schedule. A late tick
   * sends every frame due by then, and the slots it overran are skipped
   * rather than run back to back: lag is then how late the oldest frame of a
   * tick went out, and does not pile up from one late tick to the next.
   */
  private schedule(): void {
    const elapsed = performance.now() - this.startedAt;
    this.tickNo = Math.max(this.tickNo + 1, Math.floor(elapsed / FRAME_INTERVAL_MS) + 1);
    const at = this.startedAt + this.tickNo * FRAME_INTERVAL_MS;
    this.tickTimer = setTimeout(
      () => {
        const now = performance.now();
        const lag = Math.max(0, now - at);
        this.lags.push(lag);
        this.allLags.push(lag);
        this.tick(now);
        if (!this.stopped) this.schedule();
      },
      Math.max(0, at - performance.now()),
    );
  }

  private tick(now: number): void {
    const elapsed = now - this.startedAt;
    for (const [i, client] of this.clients.entries()) {
      const own = elapsed - this.startOffsets[i];
      if (own >= 0) client.advance(Math.floor(own / FRAME_INTERVAL_MS) + 1);
    }
  }
}

function summarise(lags: number[]): LagWindow {
  if (lags.length === 0) return { ticks: 0, p99Ms: 0, maxMs: 0 };
  const sorted = [...lags].sort((a, b) => a - b);
  return {
    ticks: sorted.length,
    p99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))],
    maxMs: sorted[sorted.length - 1],
  };
}
