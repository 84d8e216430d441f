/**
 * One `ingest-replay` run: reads the records (Redis XRANGE, XREAD for
 * --follow, XREADGROUP with --group; Kafka with a consumer group), keeps those
 * the filters select, puts each call together, writes its files once it has
 * ended (or went quiet, or at the end of the run), acknowledges what it wrote
 * (Redis XACK, Kafka offset commits, with --group), and returns the exit code.
 * Calls still open when the run ends are written then, except in a group run,
 * where they stay pending (uncommitted) for the next run.
 */
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import {
  CallAssembler,
  ConsumerError,
  kafkaMessageFields,
  lastRedisId,
  parseRecord,
  readRedisAfter,
  readRedisRange,
  RedisGroupReader,
  KafkaTopicReader,
  type CallAssembly,
  type RecordFields,
} from '../../../packages/consumer/src/index';
// The service's fix of kafkajs's request queue (a 1 ms poll, a TimeoutNegativeWarning on Node.js 24) applies here too.
import '../../shared/publishing/kafka/kafka-publisher';
import { CallFiles, type OpenReason } from './call-files';
import { KafkaWrittenOffsets } from './kafka-written-offsets';
import type { ReplayOptions } from './replay-options';

/** Exit codes (docs/consumer.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2, gap: 3, unreadable: 4 } as const;

export interface ReplayIo {
  readonly line: (text: string) => void;
  readonly warn: (text: string) => void;
}

/** How long one blocking read waits in --follow before the open calls are looked at again. */
const FOLLOW_BLOCK_MS = 500;
/** How often a Kafka --group --follow run commits what it has written. */
const COMMIT_INTERVAL_MS = 5000;
/** How far the reading's clock moves between looks at the open calls (without --follow). */
const SWEEP_EVERY_MS = 1000;

export class ReplayRun {
  private readonly assembler = new CallAssembler();
  private readonly files: CallFiles;
  private gapFound = false;
  private unreadable = false;
  private stopping = false;
  private onStop: (() => void) | undefined;
  /** Without --follow: the latest backend time read (the clock that ends and idles calls). */
  private clock = 0;
  private lastSweep = 0;
  /** Records no run can use (unparsable): a group acknowledges them. */
  private unusable: string[] = [];
  /** Positions of the records of calls written (Kafka --group: kept until committed). */
  private written: string[] = [];
  private lines = 0;

  constructor(
    private readonly options: ReplayOptions,
    private readonly io: ReplayIo,
  ) {
    const { backend } = options;
    this.files = new CallFiles({
      out: options.out,
      wavFormat: options.wavFormat,
      fillGaps: options.fillGaps,
      origin:
        backend.kind === 'redis'
          ? { from: backend.shown, key: backend.key }
          : { from: backend.shown, topic: backend.topic },
    });
  }

  /** Ends the run as if the reading were done (SIGINT/SIGTERM). Idempotent. */
  stop(): void {
    this.stopping = true;
    this.onStop?.();
  }

  async run(): Promise<number> {
    fs.mkdirSync(this.options.out, { recursive: true });
    if (this.options.backend.kind === 'redis') await this.runRedis(this.options.backend.url, this.options.backend.key);
    else await this.runKafka(this.options.backend.brokers, this.options.backend.topic);
    if (this.lines === 0) this.io.warn('nothing matched: no call was written');
    if (this.assembler.repeated > 0)
      this.io.warn(`${this.assembler.repeated} records repeated calls already written and were dropped`);
    return this.unreadable ? EXIT.unreadable : this.gapFound ? EXIT.gap : EXIT.ok;
  }

  private get grouped(): boolean {
    return this.options.group !== undefined;
  }

  /** The time a call's activity is measured in: the wall clock when following, else the backend's. */
  private now(): number {
    return this.options.follow ? Date.now() : this.clock;
  }

  /** One record from the backend: parsed, filtered, added to its call (written at once when following and ended). */
  private take(fields: RecordFields, position: string, time: number): void {
    const { since, until, tenant, interaction } = this.options;
    if (since && time < since.getTime()) return;
    if (until && time >= until.getTime()) return;
    if (time > this.clock) this.clock = time;
    let record;
    try {
      record = parseRecord(fields, position, time);
    } catch (error) {
      if (!(error instanceof ConsumerError)) throw error;
      this.unreadable = true;
      this.unusable.push(position);
      this.io.warn(`skipped: ${error.message}`);
      return;
    }
    if (tenant !== undefined && record.tenant_id !== tenant) return;
    if (interaction !== undefined && record.interaction_id !== interaction) return;
    const call = this.assembler.add(record, this.now());
    if (call?.ended && this.options.follow) this.write(call);
    else if (!this.options.follow && this.clock - this.lastSweep >= SWEEP_EVERY_MS) this.sweep();
  }

  /** Writes a call and forgets it; returns the positions its files now hold (none when it was refused). */
  private write(call: CallAssembly, open?: OpenReason): string[] {
    const written = this.files.write(call, open);
    this.assembler.take(call);
    if (written.gap) this.gapFound = true;
    if (written.failed) this.unreadable = true;
    this.io.line(written.line);
    this.lines++;
    if (written.warning) this.io.warn(written.warning);
    if (written.refused) return [];
    const positions = [...call.readPositions()];
    if (this.grouped && this.options.backend.kind === 'kafka') this.written.push(...positions);
    return positions;
  }

  /**
   * Writes the calls that are done: ended ones (following: at once; else once
   * the reading moved --resume-wait-seconds past them, so a stream that follows
   * joins them), and ones quiet for that long: a native call whose last
   * connection ended with a reason after which it may resume, or, following,
   * any call with nothing new (written with `ended: false`).
   */
  private sweep(now = this.now()): string[] {
    this.lastSweep = this.clock;
    const positions: string[] = [];
    const wait = this.options.resumeWaitMs;
    for (const call of this.assembler.open()) {
      const idle = now - call.lastActivity >= wait;
      if (call.ended && (this.options.follow || idle)) positions.push(...this.write(call));
      else if (idle && (call.quiet || this.options.follow)) positions.push(...this.write(call, 'idle'));
    }
    return positions;
  }

  /**
   * The end of the run. Without a group every call still open is written as it
   * stands. A group writes only the calls that have ended (or went quiet long
   * enough ago by the wall clock); the others stay pending for the next run.
   */
  private finish(): string[] {
    if (!this.grouped) return this.assembler.open().flatMap((call) => this.write(call, 'end_of_run'));
    const positions: string[] = [];
    let open = 0;
    for (const call of this.assembler.open()) {
      // lastActivity is the backend's time of the call's last record without --follow, the wall clock with it.
      if (call.ended) positions.push(...this.write(call));
      else if (call.quiet && Date.now() - call.lastActivity >= this.options.resumeWaitMs)
        positions.push(...this.write(call, 'idle'));
      else open++;
    }
    if (open > 0)
      this.io.warn(`${open} calls still in progress were left open (not written, not acknowledged) for the next run`);
    return positions;
  }

  /** `finish()` after an error too; its own failure is reported without hiding the first. */
  private finishAfter(failed: boolean): string[] {
    try {
      return this.finish();
    } catch (error) {
      if (!failed) throw error;
      this.io.warn(`the calls still open could not be written: ${(error as Error).message}`);
      return [];
    }
  }

  private async runRedis(url: string, key: string): Promise<void> {
    const shown = this.options.backend.shown;
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true });
    redis.on('error', () => undefined); // a failed command rejects with the same error, reported by the caller
    let failed = true;
    try {
      await redis.connect().catch((error: Error) => {
        throw new ConsumerError('backend_failed', `cannot reach Redis at ${shown}: ${error.message}`);
      });
      if (!(await this.checkKey(redis, key))) return void (failed = false);
      if (this.options.group !== undefined) await this.runRedisGroup(redis, key, this.options.group);
      else await this.runRedisRead(redis, key);
      failed = false;
    } catch (error) {
      if (/MOVED|CROSSSLOT|CLUSTERDOWN/.test((error as Error).message))
        throw new ConsumerError(
          'backend_failed',
          `${shown} is a Redis Cluster node, and ingest-replay reads a standalone Redis only: ` +
            `copy the key (redis-cli --cluster …) or read it with the module (${(error as Error).message})`,
        );
      throw error;
    } finally {
      // A group leaves its open calls pending; any other run writes them, even after an error.
      if (!this.grouped) this.finishAfter(failed);
      await redis.quit().catch(() => redis.disconnect());
    }
  }

  /** Whether the key can be read: a stream, or (following, or a group that creates it) none yet. */
  private async checkKey(redis: Redis, key: string): Promise<boolean> {
    let type: string;
    try {
      type = String(await redis.type(key));
    } catch (error) {
      throw new ConsumerError('backend_failed', `Redis TYPE ${key} failed: ${(error as Error).message}`);
    }
    if (type === 'stream') return true;
    if (type !== 'none')
      throw new ConsumerError('backend_failed', `Redis key ${key} holds a ${type}, not a stream: check --key`);
    if (this.options.follow || this.grouped) {
      this.io.warn(`Redis key ${key} does not exist yet`);
      return true;
    }
    this.io.warn(`nothing matched: Redis key ${key} does not exist (check --key)`);
    return false;
  }

  private async runRedisRead(redis: Redis, key: string): Promise<void> {
    let last = this.options.since || !this.options.follow ? '-' : await lastRedisId(redis, key);
    if (last === '-') {
      for await (const entry of readRedisRange(redis, {
        key,
        since: this.options.since,
        until: this.options.until,
      })) {
        if (this.stopping) return;
        this.take(entry.fields, entry.id, entry.time);
        last = entry.id;
      }
      if (!this.options.follow) return;
      if (last === '-') last = '0-0';
    }
    this.io.warn(`following ${key} after entry ${last}`);
    while (!this.stopping) {
      for (const entry of await readRedisAfter(redis, key, last, FOLLOW_BLOCK_MS)) {
        this.take(entry.fields, entry.id, entry.time);
        last = entry.id;
      }
      this.sweep();
    }
  }

  private async runRedisGroup(redis: Redis, key: string, group: string): Promise<void> {
    const reader = new RedisGroupReader(redis, { key, group, consumer: this.options.consumer });
    await reader.start();
    if (this.options.follow) this.io.warn(`following ${key} as ${this.options.consumer} of group ${group}`);
    let deleted = 0;
    while (!this.stopping) {
      const entries = await reader.read(this.options.follow ? FOLLOW_BLOCK_MS : 0);
      for (const entry of entries) this.take(entry.fields, entry.id, entry.time);
      await reader.ack([...this.unusable.splice(0), ...this.sweep()]);
      if (reader.deletedAcked > deleted) {
        this.io.warn(`${reader.deletedAcked - deleted} pending entries were deleted from ${key}: acknowledged`);
        deleted = reader.deletedAcked;
      }
      if (!this.options.follow && entries.length === 0) break;
    }
    await reader.ack(this.finish());
  }

  private async runKafka(brokers: readonly string[], topic: string): Promise<void> {
    const kafka = new Kafka({ clientId: 'ingest-replay', brokers: [...brokers], logLevel: logLevel.NOTHING });
    const group = this.options.group;
    const done = group === undefined ? undefined : new KafkaWrittenOffsets(this.options.out, group, topic);
    done?.load();
    const reader = new KafkaTopicReader(kafka, {
      topic,
      groupId: group ?? `ingest-replay-${randomBytes(6).toString('hex')}`,
      follow: this.options.follow,
      fromBeginning: true,
      onMessage: (message) => {
        if (done?.has(message.partition, BigInt(message.offset))) return;
        const fields = kafkaMessageFields(message.headers, message.value);
        this.take(fields, `${message.partition}:${message.offset}`, message.timestamp);
      },
    });
    this.onStop = () => reader.stop();
    if (this.stopping) reader.stop();
    let failure: Error | undefined;
    let ticker: NodeJS.Timeout | undefined;
    let committing: Promise<void> | undefined;
    const commit = async (): Promise<void> => {
      if (!done) return;
      const points = this.commitPoints(reader.positions());
      done.add(this.written.splice(0));
      done.add(this.unusable.splice(0));
      done.save(points);
      await reader.commit(points);
    };
    try {
      await reader.start();
      if (this.options.follow) {
        this.io.warn(`following ${topic}`);
        let lastCommit = Date.now();
        ticker = setInterval(() => {
          try {
            this.sweep();
            if (done && !committing && Date.now() - lastCommit >= COMMIT_INTERVAL_MS) {
              lastCommit = Date.now();
              committing = commit()
                .catch((error: Error) => reader.abort(error))
                .finally(() => (committing = undefined));
            }
          } catch (error) {
            // A failure here (a full disk) ends the run with its message rather than crashing it.
            reader.abort(error as Error);
          }
        }, FOLLOW_BLOCK_MS);
      }
      await reader.done;
    } catch (error) {
      failure = error as Error;
    }
    clearInterval(ticker);
    await committing;
    this.onStop = undefined;
    try {
      this.finishAfter(failure !== undefined);
      if (group !== undefined) await commit();
    } catch (error) {
      if (failure === undefined) failure = error as Error;
      else this.io.warn(`Kafka offsets could not be committed: ${(error as Error).message}`);
    } finally {
      await reader.close().catch(() => undefined);
    }
    if (failure !== undefined) throw failure;
  }

  /** Per partition: the next offset read, or the first offset of a call still open when lower. */
  private commitPoints(next: ReadonlyMap<number, bigint>): Map<number, bigint> {
    const points = new Map(next);
    for (const call of this.assembler.open())
      for (const position of call.readPositions()) {
        const [partition, offset] = position.split(':').map((part) => BigInt(part));
        const p = Number(partition);
        if (offset < (points.get(p) ?? offset + 1n)) points.set(p, offset);
      }
    return points;
  }
}
