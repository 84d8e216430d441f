/**
 * One chaos run, start to verdict: a private backend, the real service in
 * front of it, a steady real-time load of resuming clients, faults injected
 * at random while the load runs; then the load stops, every client finishes
 * (stop, `stopped`, 1000) or gives up, the service is stopped with SIGTERM,
 * and the backend is read back completely and checked frame by frame.
 * Everything it starts is stopped on the way out, whatever happens.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../support/free-port';
import { makeKeyPair, nowS, signToken } from '../support/tokens';
import type { BackendKind, ChaosBackend } from './chaos-backend';
import { ChaosVerifier, type Verdict } from './chaos-verifier';
import { FaultInjector, type FaultKind, type FaultRecord } from './fault-injector';
import { KafkaBackend } from './kafka-backend';
import { LoadGenerator, type LagWindow } from './load-generator';
import { treeCpuSeconds } from '../../bench/process-tree';
import { RedisBackend } from './redis-backend';
import { RssSampler, workersHeap, type RssSample } from './rss-sampler';
import { SeededRandom } from './seeded-random';
import { ServiceProcess, type ServiceExit } from './service-process';

export interface ChaosOptions {
  readonly streams: number;
  readonly seconds: number;
  readonly backend: BackendKind;
  readonly seed: number;
  readonly workers: number;
  /** Mean pause between faults. */
  readonly faultGapMs: number;
  /** After the load stops, how long clients may take to finish before they give up. */
  readonly finishTimeoutMs: number;
  readonly progressEveryMs: number;
  readonly rssEveryMs: number;
  /** Settings for the service on top of the run's own (e.g. a smaller BUFFER_DURATION_MS). */
  readonly serviceEnv?: Record<string, string>;
}

export interface ChaosResult {
  readonly options: ChaosOptions;
  readonly verdict: Verdict;
  readonly faults: readonly FaultRecord[];
  readonly faultCounts: ReadonlyMap<FaultKind, number>;
  readonly rss: readonly RssSample[];
  readonly lag: LagWindow;
  readonly serviceExit: ServiceExit | undefined;
  readonly serviceProblems: ReadonlyMap<string, number>;
  readonly logPath: string;
  /** Seconds the load ran, and the whole run took. */
  readonly loadS: number;
  /** Where the CPU went while the load ran, in % of one core, and how busy the machine was. */
  readonly cpu: CpuFigures;
  readonly totalS: number;
}

export interface CpuFigures {
  readonly generatorPct: number;
  readonly servicePct: number;
  /** The machine's 1-minute load average, lowest and highest seen at the progress lines. */
  readonly loadAvgMin: number;
  readonly loadAvgMax: number;
}

export const TENANT = 'chaos';

function createBackend(kind: BackendKind, name: string): ChaosBackend {
  return kind === 'kafka' ? new KafkaBackend(`${name}.audio`) : new RedisBackend(`${name}:audio`);
}

export async function runChaos(options: ChaosOptions, say: (line: string) => void): Promise<ChaosResult> {
  const began = performance.now();
  const random = new SeededRandom(options.seed);
  const name = `chaos-${options.seed}-${Date.now().toString(36)}`;
  const logPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'chaos-run-')), 'service.log');
  const backend = createBackend(options.backend, name);
  const keys = makeKeyPair('ec');
  const exp = nowS() + options.seconds + 3600;
  const [port, metricsPort] = await freePorts(2);
  let service: ServiceProcess | undefined;
  let sampler: RssSampler | undefined;
  let progress: NodeJS.Timeout | undefined;
  let load: LoadGenerator | undefined;
  try {
    say(`chaos: starting ${options.backend} backend (private)`);
    await backend.start();
    service = new ServiceProcess(
      {
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        WORKERS: String(options.workers),
        LOG_LEVEL: 'info',
        JWT_PUBLIC_KEY: keys.publicKeyPem,
        ...backend.serviceEnv(),
        ...options.serviceEnv,
      },
      logPath,
    );
    say(`chaos: starting the service with ${options.workers} workers on port ${port} (log: ${logPath})`);
    await service.start();
    const running = service;
    sampler = new RssSampler(
      () => running.pid,
      () => running.workerPids(),
      options.rssEveryMs,
      () => workersHeap(metricsPort),
    );
    load = new LoadGenerator({
      streams: options.streams,
      url: `ws://127.0.0.1:${port}/v1/ingest`,
      token: (interactionId) => signToken(keys.privateKey, { tenant_id: TENANT, interaction_id: interactionId, exp }),
      interactionPrefix: name,
      random,
      rampMs: Math.min(10_000, options.streams * 20),
    });
    const faults = new FaultInjector({
      service,
      backend,
      load,
      random,
      meanGapMs: options.faultGapMs,
      say,
    });
    say(
      `chaos: ${options.streams} streams of 320 B every 20 ms for ${options.seconds} s, seed ${options.seed}, ` +
        `faults about every ${options.faultGapMs / 1000} s (${faults.possibleKinds.join(', ')})`,
    );
    sampler.start();
    const loadStart = performance.now();
    const generatorCpu = process.cpuUsage();
    // The primary's tree: itself, its workers and the workers it has reaped.
    const serviceCpuSeconds = (): number => (running.pid === undefined ? 0 : treeCpuSeconds(running.pid));
    const serviceCpu = serviceCpuSeconds();
    const loadAvgs: number[] = [os.loadavg()[0]];
    load.start();
    faults.start();
    const generator = load;
    const sampling = sampler;
    progress = setInterval(() => {
      loadAvgs.push(os.loadavg()[0]);
      say(progressLine(loadStart, generator, faults, sampling));
    }, options.progressEveryMs);
    await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
    await faults.stop();
    load.stop();
    const loadS = (performance.now() - loadStart) / 1000;
    const generatorUsed = process.cpuUsage(generatorCpu);
    const cpu: CpuFigures = {
      generatorPct: ((generatorUsed.user + generatorUsed.system) / 1e6 / loadS) * 100,
      servicePct: ((serviceCpuSeconds() - serviceCpu) / loadS) * 100,
      loadAvgMin: Math.min(...loadAvgs),
      loadAvgMax: Math.max(...loadAvgs),
    };
    say(`chaos: load stopped after ${loadS.toFixed(0)} s; waiting for every stream to finish`);
    await finishClients(load, options.finishTimeoutMs, say);
    clearInterval(progress);
    say(progressLine(loadStart, load, faults, sampler));
    const serviceExit = await service.stop();
    sampler.close();
    say(`chaos: service stopped (${describeExit(serviceExit)}); reading the backend back`);
    const verifier = new ChaosVerifier(load.clients);
    await backend.readAll((record) => verifier.add(record));
    return {
      options,
      verdict: verifier.verdict(),
      faults: faults.faults,
      faultCounts: faults.countByKind(),
      rss: sampler.samples,
      lag: load.lagOverall(),
      serviceExit,
      serviceProblems: service.problems,
      logPath,
      loadS,
      cpu,
      totalS: (performance.now() - began) / 1000,
    };
  } finally {
    clearInterval(progress);
    sampler?.close();
    for (const client of load?.clients ?? []) client.giveUp();
    await service?.stop();
    await backend.close();
  }
}

async function finishClients(load: LoadGenerator, timeoutMs: number, say: (line: string) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const allDone = Promise.all(load.clients.map((c) => c.whenFinished()));
  const timedOut = await Promise.race([
    allDone.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (!timedOut) return;
  const left = load.clients.filter((c) => !c.finished);
  say(`chaos: ${left.length} streams not finished ${timeoutMs / 1000} s after the load stopped: giving up on them`);
  for (const client of left) client.giveUp();
}

function progressLine(loadStart: number, load: LoadGenerator, faults: FaultInjector, sampler: RssSampler): string {
  const t = ((performance.now() - loadStart) / 1000).toFixed(0);
  let streaming = 0;
  let sent = 0;
  let committed = 0;
  for (const c of load.clients) {
    if (c.state === 'streaming' || c.state === 'stopping') streaming++;
    sent += c.highestSent;
    committed += c.committed;
  }
  const lag = load.takeLagWindow();
  const rss = sampler.latest();
  const workers = rss?.workers.map((w) => w.rssMiB.toFixed(0)).join('/') ?? '-';
  return (
    `chaos: t=${t}s streaming ${streaming}/${load.clients.length} sent ${sent} committed ${committed} ` +
    `faults ${faults.faults.length} send-lag p99 ${lag.p99Ms.toFixed(0)} ms max ${lag.maxMs.toFixed(0)} ms ` +
    `rss workers ${workers} MiB primary ${rss?.primaryMiB.toFixed(0) ?? '-'} MiB ` +
    `heap ${rss?.heapUsedMiB?.toFixed(0) ?? '-'} MiB external ${rss?.externalMiB?.toFixed(0) ?? '-'} MiB ` +
    `load avg ${os.loadavg()[0].toFixed(1)}`
  );
}

export function describeExit(exit: ServiceExit | undefined): string {
  if (!exit) return 'not running';
  return exit.signal ? `killed by ${exit.signal}` : `exit ${exit.code}`;
}
