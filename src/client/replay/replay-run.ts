/**
 * One `ingest-replay` run: reads the records (Redis XRANGE, XREAD for
 * --follow, XREADGROUP with --group; Kafka with a consumer group), keeps those
 * the filters select, puts each call together, writes its files when it ends
 * (--follow) or when the reading is done, acknowledges what it wrote (Redis
 * XACK, Kafka offset commits, with --group), and returns the exit code.
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
import { writeCall } from './call-files';
import type { ReplayOptions } from './replay-options';

/** Exit codes (docs/consumer.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2, gap: 3, unreadable: 4 } as const;

export interface ReplayIo {
  readonly line: (text: string) => void;
  readonly warn: (text: string) => void;
}

/** How long one blocking read waits in --follow before the open calls are looked at again. */
const FOLLOW_BLOCK_MS = 500;

export class ReplayRun {
  private readonly assembler = new CallAssembler();
  private gapFound = false;
  private unreadable = false;
  private stopping = false;

  constructor(
    private readonly options: ReplayOptions,
    private readonly io: ReplayIo,
  ) {}

  /** Ends a --follow run: the calls still open are written as they stand. Idempotent. */
  stop(): void {
    this.stopping = true;
  }

  async run(): Promise<number> {
    fs.mkdirSync(this.options.out, { recursive: true });
    if (this.options.backend.kind === 'redis') await this.runRedis(this.options.backend.url, this.options.backend.key);
    else await this.runKafka(this.options.backend.brokers, this.options.backend.topic);
    return this.unreadable ? EXIT.unreadable : this.gapFound ? EXIT.gap : EXIT.ok;
  }

  /** One record from the backend: parsed, filtered, added to its call. Undefined when it is not selected. */
  private take(fields: RecordFields, position: string, time: number): CallAssembly | undefined {
    const { since, until, tenant, interaction } = this.options;
    if (since && time < since.getTime()) return undefined;
    if (until && time >= until.getTime()) return undefined;
    let record;
    try {
      record = parseRecord(fields, position, time);
    } catch (error) {
      if (!(error instanceof ConsumerError)) throw error;
      this.unreadable = true;
      this.io.warn(`skipped: ${error.message}`);
      return undefined;
    }
    if (tenant !== undefined && record.tenant_id !== tenant) return undefined;
    if (interaction !== undefined && record.interaction_id !== interaction) return undefined;
    return this.assembler.add(record);
  }

  private write(call: CallAssembly): string[] {
    const { out, wavFormat, fillGaps, backend } = this.options;
    const origin: Record<string, string> =
      backend.kind === 'redis'
        ? { from: backend.url, key: backend.key }
        : { from: `kafka://${backend.brokers.join(',')}`, topic: backend.topic };
    const written = writeCall(call, { out, wavFormat, fillGaps, origin });
    this.assembler.take(call);
    if (written.gap) this.gapFound = true;
    if (written.failed) this.unreadable = true;
    this.io.line(written.line);
    return [...written.call.positions];
  }

  /** --follow: writes the calls that have ended, and native ones quiet for --resume-wait-seconds. */
  private writeFinished(now = Date.now()): string[] {
    const positions: string[] = [];
    for (const call of this.assembler.open()) {
      const done = call.ended || (call.quiet && now - call.lastActivity >= this.options.resumeWaitMs);
      if (done) positions.push(...this.write(call));
    }
    return positions;
  }

  private writeAll(): string[] {
    return this.assembler.open().flatMap((call) => this.write(call));
  }

  private async runRedis(url: string, key: string): Promise<void> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true });
    redis.on('error', () => undefined); // a failed command rejects with the same error, reported by the caller
    try {
      await redis.connect().catch((error: Error) => {
        throw new ConsumerError('backend_failed', `cannot reach Redis at ${url}: ${error.message}`);
      });
      if (this.options.group !== undefined) return await this.runRedisGroup(redis, key, this.options.group);
      let last = this.options.since || !this.options.follow ? '-' : await lastRedisId(redis, key);
      if (last === '-') {
        for await (const entry of readRedisRange(redis, {
          key,
          since: this.options.since,
          until: this.options.until,
        })) {
          this.take(entry.fields, entry.id, entry.time);
          last = entry.id;
        }
        if (!this.options.follow) return void this.writeAll();
        if (last === '-') last = '0-0';
      }
      this.io.warn(`following ${key} after entry ${last}`);
      while (!this.stopping) {
        for (const entry of await readRedisAfter(redis, key, last, FOLLOW_BLOCK_MS)) {
          this.take(entry.fields, entry.id, entry.time);
          last = entry.id;
        }
        this.writeFinished();
      }
      this.writeAll();
    } finally {
      await redis.quit().catch(() => redis.disconnect());
    }
  }

  private async runRedisGroup(redis: Redis, key: string, group: string): Promise<void> {
    const reader = new RedisGroupReader(redis, { key, group, consumer: this.options.consumer });
    await reader.start();
    if (this.options.follow) this.io.warn(`following ${key} as ${this.options.consumer} of group ${group}`);
    for (;;) {
      const entries = await reader.read(this.options.follow ? FOLLOW_BLOCK_MS : 0);
      for (const entry of entries) this.take(entry.fields, entry.id, entry.time);
      if (this.options.follow) {
        await reader.ack(this.writeFinished());
        if (this.stopping) break;
      } else if (entries.length === 0) break;
    }
    // Only what was written is acknowledged: entries the filters left out stay pending for the group.
    await reader.ack(this.writeAll());
  }

  private async runKafka(brokers: readonly string[], topic: string): Promise<void> {
    const kafka = new Kafka({ clientId: 'ingest-replay', brokers: [...brokers], logLevel: logLevel.NOTHING });
    const reader = new KafkaTopicReader(kafka, {
      topic,
      groupId: this.options.group ?? `ingest-replay-${randomBytes(6).toString('hex')}`,
      follow: this.options.follow,
      fromBeginning: true,
      onMessage: (message) => {
        const fields = kafkaMessageFields(message.headers, message.value);
        this.take(fields, `${message.partition}:${message.offset}`, message.timestamp);
      },
    });
    try {
      await reader.start();
      if (this.options.follow) {
        this.io.warn(`following ${topic}`);
        const ticker = setInterval(() => {
          this.writeFinished();
          if (this.stopping) reader.stop();
        }, FOLLOW_BLOCK_MS);
        try {
          await reader.done;
        } finally {
          clearInterval(ticker);
        }
      } else {
        await reader.done;
      }
      this.writeAll();
      // Commit everything read: every call it touched has been written by now.
      if (this.options.group !== undefined) await reader.commit(reader.positions());
    } finally {
      await reader.close().catch(() => undefined);
    }
  }
}
