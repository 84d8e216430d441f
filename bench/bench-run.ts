/**
 * `npm run bench`: the service against a bare `ws` floor and a minimal
 * correct Redis pipeline (bench/reference/), each server alone in its
 * process tree and loaded from outside by `ingest-loadgen`, in interleaved
 * rounds. Prints the markdown report (and writes it with --out); progress
 * on stderr. Exit 1 when a run failed, 2 on bad usage. docs/benchmarks.md
 * says what each figure means.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseBenchOptions, USAGE, type BenchOptions } from './bench-options';
import { planRound } from './bench-plan';
import { formatReport, type RunFailure } from './bench-report';
import { LOADGEN_CLI } from './loadgen-run';
import { machineInfo, openFilesLimit } from './machine-info';
import { measure, type Measurement, type MeasurementSpec, type RunContext } from './measurement';

const BUFFER_MS = 3000;
const FRAME_BYTES = 320;
const FRAME_MS = 20;

function commandLine(argv: readonly string[]): string {
  if (process.env.npm_lifecycle_event !== 'bench') return ['node dist/bench/bench-run.js', ...argv].join(' ');
  return argv.length > 0 ? `npm run bench -- ${argv.join(' ')}` : 'npm run bench';
}

function progress(round: number, options: BenchOptions, spec: MeasurementSpec, m: Measurement): void {
  const workers = spec.workers > 1 ? ` ${spec.workers} workers` : '';
  const figures =
    spec.scenario === 'idle'
      ? `${m.rssPerStreamKiB.toFixed(1)} KiB per idle stream`
      : `${m.cpuMicrosPerFrame.toFixed(2)} µs/frame, ${m.framesPerSecond.toFixed(0)} frames/s, ` +
        `ack p99 ${m.ackP99Ms ?? '—'} ms, oldest-frame commit p99 ${m.oldestCommitP99Ms ?? '—'} ms, ` +
        `${m.rssPerStreamKiB.toFixed(1)} KiB per stream`;
  const warnings = m.warnings.length > 0 ? ` (${m.warnings.join('; ')})` : '';
  const what = `${spec.scenario} ${spec.variant} ${spec.streams} streams${workers}`;
  console.error(`[round ${round + 1}/${options.rounds}] ${what}: ${figures}${warnings}`);
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(argv);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (!existsSync(LOADGEN_CLI)) {
    console.error(`the load generator is not built (${LOADGEN_CLI} is missing): run npm run build`);
    return 1;
  }
  // Each stream is a socket in the generator and one in the server, which inherit this process's limit.
  const mostStreams = Math.max(...options.streams, options.idleStreams, options.memoryStreams);
  if (openFilesLimit() < mostStreams + 1000) {
    console.error(`the open-files limit (${openFilesLimit()}) is too low for ${mostStreams} streams: raise ulimit -n`);
    return 1;
  }
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'ingest-bench-'));
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateKeyFile = path.join(workDir, 'bench-key.pem');
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const context: RunContext = {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyFile,
    bufferMs: BUFFER_MS,
    seconds: options.seconds,
    frameBytes: FRAME_BYTES,
    frameMs: FRAME_MS,
    logDir: workDir,
  };
  const started = Date.now();
  const measurements: Measurement[] = [];
  const failures: RunFailure[] = [];
  console.error(`ingest bench: ${options.rounds} round(s); server logs in ${workDir}`);
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const spec of planRound(options, round)) {
        try {
          const m = await measure(spec, round, context);
          measurements.push(m);
          progress(round, options, spec, m);
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          failures.push({ spec, round, error });
          console.error(`[round ${round + 1}] ${spec.scenario} ${spec.variant} ${spec.streams} FAILED: ${error}`);
        }
      }
    }
  } finally {
    rmSync(privateKeyFile, { force: true });
  }
  const report = formatReport({
    machine: machineInfo(),
    command: commandLine(argv),
    options,
    bufferMs: BUFFER_MS,
    frameBytes: FRAME_BYTES,
    frameMs: FRAME_MS,
    startedAt: new Date(started).toISOString(),
    minutes: (Date.now() - started) / 60_000,
    measurements,
    failures,
  });
  process.stdout.write(report);
  if (options.out) {
    writeFileSync(options.out, report);
    console.error(`report written to ${options.out}`);
  }
  return failures.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
