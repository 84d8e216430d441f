/**
 * The examples of docs/consumer.md, taken from the markdown (test/support/doc-examples.ts), run as a reader
 * runs them, against calls streamed through the built service into Redis and into Kafka:
 * - `replay-cli`: every command line of the block, through bash from the repository root (the test runs after the
 *   build, so its `npm run build` line is left out), with `ingest-replay` on PATH as `npm link` puts it there: a
 *   scratch bin folder whose `ingest-replay` runs the built CLI. The block names a shared installation's values; the
 *   test substitutes its own: `ingest:audio` and 'ingest:tenant-a:audio' become the test's Redis key, `ingest.audio`
 *   its Kafka topic, `call-123` the streamed call's id, the two March 2026 times a window around this run, `--out
 *   calls` a fresh folder per command. Each command must write exactly the one call its source holds, its WAV equal
 *   to the frames sent; the --follow one is ended with SIGINT once it wrote the call. The documented summary line
 *   (`replay-line`) must name the fields the CLI prints, in order.
 * - `consumer-redis` and `consumer-kafka`: run with node in a scratch project holding the `npm pack`ed
 *   @ingest/consumer (ioredis and kafkajs linked), with the addresses in the environment variables they read.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { parseWav } from '../../src/client/loadgen/wav-file';
import { docExample } from '../support/doc-examples';
import { entryFields, messageFields } from '../support/field-map';
import { frameBytes } from '../support/ingest-server';
import { deleteTopicAfter, readTopic, SHARED_BROKERS } from '../support/kafka';
import { startKafkaService } from '../support/kafka-service';
import { runLibraryStream } from '../support/library-stream';
import { installPacked } from '../support/packed-package';
import { readStream, REDIS_URL } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';
import { REPO_ROOT } from '../support/repo-root';
import { waitForStreamEnded, type SentStream } from '../support/stream-check';
import { uniqueName } from '../support/unique-name';

const DOC = 'docs/consumer.md';
const FRAMES = 100; // 2 s of 20 ms frames of 320 bytes
const run = promisify(execFile);

/** A call of FRAMES frames, streamed with @ingest/client to its stop. */
async function streamCall(t: TestContext, url: string, sign: () => string, index: number): Promise<SentStream> {
  const sent: SentStream = {
    interactionId: uniqueName(`doc-call-${index}`),
    tenantId: 'tenant-a',
    frames: Array.from({ length: FRAMES }, (_, i) => frameBytes(index, i + 1)),
    firstSeq: 1,
  };
  const result = await runLibraryStream(t, { url, sign, sent, maxUncommittedBytes: 1 << 20, whenFull: 'wait' });
  assert.deepEqual(result.stopped, { lastSeq: FRAMES, frames: FRAMES });
  return sent;
}

/** The block's commands: comments and `npm run build` dropped, continued lines joined. */
function commandsOf(block: string): string[] {
  const joined = block.replace(/\\\n\s*/g, '');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#') && line !== 'npm run build');
}

/** What a --follow run needs: told when it follows, and when to stop. */
interface Following {
  /** Called once stderr says the run follows the key (it reads only what comes after). */
  readonly onFollowing: () => void;
  /** SIGINT once this holds. */
  readonly stopWhen: (stdout: string) => boolean;
}

/**
 * Runs one command line through bash from the repository root, with `binDir` first on PATH, in a process group
 * of its own; a --follow run gets SIGINT in the whole group, as Ctrl-C in a terminal sends it.
 */
function runCommand(
  command: string,
  binDir: string,
  follow?: Following,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-c', command], {
    cwd: REPO_ROOT,
    env: { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const group = child.pid as number;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-group, signal);
    } catch {
      // the group is gone already
    }
  };
  let stdout = '';
  let stderr = '';
  let following = false;
  let interrupted = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (follow && !interrupted && follow.stopWhen(stdout)) {
      interrupted = true;
      signalGroup('SIGINT');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (follow && !following && /^ingest-replay: following /m.test(stderr)) {
      following = true;
      follow.onFollowing();
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signalGroup('SIGKILL');
      reject(new Error(`${command}\ndid not finish within 30 s; stderr:\n${stderr}`));
    }, 30_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      signalGroup('SIGKILL'); // nothing of it may outlive the command
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Asserts `out` holds the call, its WAV the frames sent, and nothing else. */
function assertWritten(out: string, sent: SentStream, what: string): void {
  const files = fs.readdirSync(out).sort();
  assert.deepEqual(files, [`${sent.interactionId}.json`, `${sent.interactionId}.wav`], what);
  const wav = parseWav(fs.readFileSync(path.join(out, `${sent.interactionId}.wav`)));
  assert.deepEqual([wav.encoding, wav.sampleRate, wav.channels], ['pcm_s16le', 8000, 1], what);
  assert.ok(wav.data.equals(Buffer.concat(sent.frames)), `${what}: the WAV holds the frames sent`);
}

test('docs/consumer.md: its ingest-replay command lines and Node.js examples run as written', async (t) => {
  const started = new Date(Date.now() - 60_000);
  const topic = uniqueName('doc-consumer');
  deleteTopicAfter(t, SHARED_BROKERS, topic);
  const [redis, kafka] = await Promise.all([
    startRedisCluster(t, 'doc-consumer', { WORKERS: '1', BUFFER_DURATION_MS: '100' }),
    startKafkaService(
      t,
      { brokers: SHARED_BROKERS, topic, partitions: 1, replication: 1 },
      { WORKERS: '1', BUFFER_DURATION_MS: '100' },
    ),
  ]);
  const tenant = { tenant_id: 'tenant-a' };
  const [redisCall, kafkaCall] = await Promise.all([
    streamCall(t, redis.url, () => redis.sign(tenant), 1),
    streamCall(t, kafka.url, () => kafka.sign(tenant), 2),
  ]);
  await Promise.all([
    waitForStreamEnded(
      async () => (await readStream(redis.admin, redis.streamKey)).map(entryFields),
      redisCall.interactionId,
    ),
    waitForStreamEnded(
      async () => (await readTopic(SHARED_BROKERS, topic)).map(messageFields),
      kafkaCall.interactionId,
    ),
  ]);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'doc-consumer-'));
  t.after(() => fs.rmSync(scratch, { recursive: true, force: true }));
  // What `npm link` puts on PATH: the package's bin, running the built CLI.
  const binDir = path.join(scratch, 'bin');
  fs.mkdirSync(binDir);
  const cli = path.join(REPO_ROOT, 'dist', 'src', 'client', 'replay', 'replay-cli.js');
  fs.writeFileSync(path.join(binDir, 'ingest-replay'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`, {
    mode: 0o755,
  });

  await t.test('replay-cli: every command line writes the call its source holds', async () => {
    const commands = commandsOf(docExample(DOC, 'replay-cli').code);
    assert.equal(commands.length, 6, commands.join('\n'));
    const documentedKeys = docExample(DOC, 'replay-line')
      .code.trim()
      .split(' ')
      .slice(1)
      .map((pair) => pair.split('=')[0]);
    const until = new Date(Date.now() + 60_000);
    for (const [n, command] of commands.entries()) {
      assert.match(command, /^(node dist\/src\/client\/replay\/replay-cli\.js|ingest-replay) /, command);
      const kafkaCommand = command.includes('kafka://');
      const out = path.join(scratch, `out-${n + 1}`);
      const substituted = command
        .replace(/'ingest:tenant-a:audio'|\bingest:audio\b/g, redis.streamKey)
        .replace('redis://127.0.0.1:6379', REDIS_URL)
        .replace('kafka://127.0.0.1:9092', `kafka://${SHARED_BROKERS.join(',')}`)
        .replace('--topic ingest.audio', `--topic ${topic}`)
        .replace('call-123', redisCall.interactionId)
        .replace('2026-03-01T09:00:00Z', started.toISOString())
        .replace('2026-03-01T10:00:00Z', until.toISOString())
        .replace(/--out calls$/, `--out ${out}`);
      assert.ok(substituted.endsWith(`--out ${out}`), `${command}: writes into calls`);
      // A --follow run reads only what comes after its start: a call of its own, streamed once it follows.
      let live: Promise<SentStream> | undefined;
      const result = await runCommand(
        substituted,
        binDir,
        command.includes('--follow')
          ? {
              onFollowing: () => {
                live = streamCall(t, redis.url, () => redis.sign(tenant), 3 + n);
                live.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
              },
              stopWhen: (stdout) => stdout.endsWith('\n'),
            }
          : undefined,
      );
      const sent = live ? await live : kafkaCommand ? kafkaCall : redisCall;
      const what = `${substituted}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      // A --follow run ends on its first SIGINT as if the reading were done: exit 0 (docs/consumer.md).
      assert.equal(result.code, 0, what);
      const lines = result.stdout.trim().split('\n');
      assert.equal(lines.length, 1, what);
      const [id, ...pairs] = lines[0].split(' ');
      assert.equal(id, sent.interactionId, what);
      const fields = Object.fromEntries(pairs.map((pair) => pair.split('=') as [string, string]));
      assert.deepEqual(Object.keys(fields), documentedKeys, `${what}\nthe fields of the line docs/consumer.md shows`);
      assert.deepEqual(
        fields,
        {
          tenant: 'tenant-a',
          source: 'native',
          frames: String(FRAMES),
          duration: '2.000s',
          duplicates_removed: '0',
          gaps: '0',
          missing_frames: '0',
          ended: 'yes',
          wav: `${sent.interactionId}.wav`,
        },
        what,
      );
      assertWritten(out, sent, what);
    }
  });

  const project = installPacked(t, ['consumer'], ['ioredis', 'kafkajs']);
  const node = (file: string, env: Record<string, string>): Promise<{ stdout: string; stderr: string }> =>
    run(process.execPath, [file], { cwd: project.dir, env: { ...process.env, ...env }, timeout: 30_000 });

  await t.test('consumer-redis: one call read from Redis is written as its WAV', async () => {
    const file = path.join(project.dir, 'replay-one.mjs');
    fs.writeFileSync(file, docExample(DOC, 'consumer-redis').code);
    const { stdout } = await node(file, {
      REDIS_URL,
      INGEST_KEY: redis.streamKey,
      INTERACTION_ID: redisCall.interactionId,
    });
    assert.equal(stdout, '0 duplicates removed, 0 gaps\n');
    const wav = parseWav(fs.readFileSync(path.join(project.dir, `${redisCall.interactionId}.wav`)));
    assert.ok(wav.data.equals(Buffer.concat(redisCall.frames)), 'the WAV holds the frames sent');
  });

  await t.test('consumer-kafka: the call in the topic is assembled; the group commits its offsets', async () => {
    const file = path.join(project.dir, 'kafka-calls.mjs');
    fs.writeFileSync(file, docExample(DOC, 'consumer-kafka').code);
    const groupId = uniqueName('doc-transcripts');
    const { stdout } = await node(file, {
      KAFKA_BROKERS: SHARED_BROKERS.join(','),
      INGEST_TOPIC: topic,
      KAFKA_GROUP: groupId,
    });
    // kafkajs logs its own steps to stdout as JSON lines; the rest is the example's.
    const printed = stdout.split('\n').filter((line) => line.length > 0 && !line.includes('"logger":"kafkajs"'));
    assert.deepEqual(printed, [`${kafkaCall.interactionId} [ ${FRAMES * 320} ]`]);
    const admin = new Kafka({ brokers: SHARED_BROKERS, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const [high] = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      assert.deepEqual(committed.partitions, [{ partition: 0, offset: high.high, metadata: null }]);
    } finally {
      await admin.disconnect();
    }
  });
});
