/**
 * Workers without processes, for the pool's unit tests: each test forks,
 * readies, exits and kills them by hand, so the pool's rules run without
 * node:cluster. The real processes are the e2e tests' (test/e2e/crash-*, ...).
 */
import type { WorkerEvents, WorkerHandle, WorkerLauncher } from '../../src/primary/pool/worker-launcher';
import { message, type PrimaryToWorker, type WorkerToPrimary } from '../../src/shared/process/ipc';

export class FakeWorker implements WorkerHandle {
  readonly sent: PrimaryToWorker[] = [];
  exitCode: number | null = null;
  killed = false;
  private dead = false;

  constructor(
    readonly id: number,
    readonly env: Readonly<Record<string, string>>,
    private readonly events: WorkerEvents,
  ) {}

  get pid(): number {
    return 10_000 + this.id;
  }

  isConnected(): boolean {
    return !this.dead;
  }

  isDead(): boolean {
    return this.dead;
  }

  send(body: PrimaryToWorker): boolean {
    if (this.dead) return false;
    this.sent.push(body);
    return true;
  }

  kill(): void {
    this.killed = true;
    this.exit(null, 'SIGKILL');
  }

  /** The worker sends the primary a message. */
  report(body: WorkerToPrimary): void {
    this.events.message(body);
  }

  ready(): void {
    this.report(message<WorkerToPrimary>({ type: 'ready', port: 0 }));
  }

  exit(code: number | null, signal: string | null = null): void {
    if (this.dead) return;
    this.dead = true;
    this.exitCode = code;
    this.events.exit(code, signal);
  }

  /** The messages of one type it was sent, oldest first. */
  received<T extends PrimaryToWorker['type']>(type: T): Array<Extract<PrimaryToWorker, { type: T }>> {
    return this.sent.filter((m): m is Extract<PrimaryToWorker, { type: T }> => m.type === type);
  }
}

export class FakeLauncher implements WorkerLauncher {
  readonly forked: FakeWorker[] = [];

  fork(env: Readonly<Record<string, string>>, events: WorkerEvents): FakeWorker {
    const worker = new FakeWorker(this.forked.length + 1, env, events);
    this.forked.push(worker);
    return worker;
  }

  /** Workers that have not exited, oldest first. */
  live(): FakeWorker[] {
    return this.forked.filter((w) => !w.isDead());
  }

  /** The newest worker that has not exited. */
  newest(): FakeWorker {
    const live = this.live();
    if (live.length === 0) throw new Error('no live worker');
    return live[live.length - 1];
  }
}
