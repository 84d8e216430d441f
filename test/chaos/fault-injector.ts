/**
 * Injects one fault at a time, at seeded random moments, until stopped:
 * - kill_worker: SIGKILL to a random worker (its clients see 1006 and resume);
 * - roll: SIGHUP to the primary (a rolling restart: 1012 and resume);
 * - backend_restart: the backend killed and started again on the same port and data;
 * - network_stall: the proxy to the backend stops forwarding for a while;
 * - network_cut: the proxy drops every connection and refuses new ones for a while;
 * - client_drop: a share of the clients' connections dropped (1006 on the client side).
 * The first faults go through every kind once, in random order, so that even
 * a short run sees each; after that the kind is drawn at random. A fault that
 * lasts (stall, cut, backend down) is healed before the next one starts, and
 * stop() waits for the one in progress and heals the network.
 */
import type { ChaosBackend } from './chaos-backend';
import type { LoadGenerator } from './load-generator';
import type { SeededRandom } from './seeded-random';
import type { ServiceProcess } from './service-process';

export const FAULT_KINDS = [
  'kill_worker',
  'roll',
  'backend_restart',
  'network_stall',
  'network_cut',
  'client_drop',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  /** Seconds since the injector started. */
  readonly atS: number;
  readonly kind: FaultKind;
  /** What was done; a backend restart adds how long the backend took to answer again. */
  detail: string;
}

export interface FaultInjectorOptions {
  readonly service: ServiceProcess;
  readonly backend: ChaosBackend;
  readonly load: LoadGenerator;
  readonly random: SeededRandom;
  /** Mean pause between the end of one fault and the start of the next. */
  readonly meanGapMs: number;
  /** Progress output: a line as each fault starts, and when a backend is back. */
  readonly say: (line: string) => void;
}

export class FaultInjector {
  readonly faults: FaultRecord[] = [];
  private readonly kinds: FaultKind[];
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private startedAt = 0;

  constructor(private readonly options: FaultInjectorOptions) {
    // Without a proxy (Kafka) the network cannot be cut: see kafka-backend.ts.
    this.kinds = FAULT_KINDS.filter((k) => options.backend.proxy || (k !== 'network_stall' && k !== 'network_cut'));
  }

  /** The kinds this run can inject. */
  get possibleKinds(): readonly FaultKind[] {
    return this.kinds;
  }

  start(): void {
    this.startedAt = performance.now();
    this.running = this.loop();
  }

  /** Ends the fault in progress (waiting for it), injects no more, and leaves the network whole. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
    this.options.backend.proxy?.heal();
  }

  countByKind(): Map<FaultKind, number> {
    const counts = new Map<FaultKind, number>(this.kinds.map((k) => [k, 0]));
    for (const f of this.faults) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
    return counts;
  }

  private async loop(): Promise<void> {
    const { random } = this.options;
    const firstRound = random.shuffle(this.kinds);
    while (!this.stopping) {
      await this.pause(this.options.meanGapMs * (0.5 + random.next()));
      if (this.stopping) return;
      const kind = firstRound.shift() ?? random.pick(this.kinds);
      await this.inject(kind);
    }
  }

  private async inject(kind: FaultKind): Promise<void> {
    const { service, backend, load, random } = this.options;
    const proxy = backend.proxy;
    const atS = (performance.now() - this.startedAt) / 1000;
    const record = (detail: string): FaultRecord => {
      const fault = { atS, kind, detail };
      this.faults.push(fault);
      this.options.say(`chaos: fault ${atS.toFixed(1)}s ${kind}: ${detail}`);
      return fault;
    };
    switch (kind) {
      case 'kill_worker': {
        const pids = service.workerPids();
        if (pids.length === 0) return; // all being replaced right now: try another time
        const pid = random.pick(pids);
        process.kill(pid, 'SIGKILL');
        record(`SIGKILL worker ${pid}`);
        return;
      }
      case 'roll':
        service.signal('SIGHUP');
        record('SIGHUP to the primary');
        return;
      case 'backend_restart': {
        const downMs = random.int(500, 3000);
        const fault = record(`${backend.kind} killed, started again after ${downMs} ms`);
        const upMs = await backend.restart(downMs);
        // The outage the service saw: the pause plus the start-up (AOF replay grows with the data stored).
        const back = `answering ${((downMs + upMs) / 1000).toFixed(1)} s after the kill`;
        fault.detail += `; ${back}`;
        this.options.say(`chaos: fault ${atS.toFixed(1)}s ${kind}: ${back}`);
        return;
      }
      case 'network_stall': {
        const ms = random.int(1000, 6000);
        record(`proxy stalls ${ms} ms`);
        proxy?.stall();
        await this.pause(ms, true);
        proxy?.unstall();
        return;
      }
      case 'network_cut': {
        const ms = random.int(500, 4000);
        record(`proxy drops connections for ${ms} ms`);
        proxy?.cut();
        await this.pause(ms, true);
        proxy?.restore();
        return;
      }
      case 'client_drop': {
        const share = random.int(5, 20);
        const dropped = load.dropClients(Math.ceil((load.clients.length * share) / 100));
        record(`${dropped} client connections dropped (${share}%)`);
        return;
      }
    }
  }

  /** Sleeps; stop() cuts a gap short, but a fault's duration (`uninterruptible`) runs out. */
  private pause(ms: number, uninterruptible = false): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      if (uninterruptible) return;
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
