/**
 * Reads records from a Redis stream key with any ioredis client (or anything
 * with its `callBuffer`, so this package needs no Redis library of its own):
 * a range by time (`XRANGE`, in pages), new entries as they come (`XREAD
 * BLOCK`), or a consumer group (`XREADGROUP`, the consumer's own pending
 * entries first, then new ones; `XACK` when the caller has used them). Replies
 * are Buffers, so the payload stays raw bytes.
 */
import { ConsumerError } from './consumer-error.js';
import { redisEntryFields, redisEntryTime } from './consumed-record.js';

/** What the readers need of a Redis client: ioredis's `callBuffer`. */
export interface RedisCommandClient {
  callBuffer(command: string, ...args: Array<string | number | Buffer>): Promise<unknown>;
}

/** One stream entry: its id, its fields, its time (the id's milliseconds). */
export interface RedisEntry {
  readonly id: string;
  readonly fields: Map<string, Buffer>;
  readonly time: number;
}

export interface RedisRange {
  readonly key: string;
  /** Entries from this time on (by the entry id's time). */
  readonly since?: Date;
  /** Entries before this time. */
  readonly until?: Date;
  /** Entries per XRANGE (default 500). */
  readonly pageSize?: number;
}

type RawEntry = [Buffer, Buffer[]];

function entriesOf(reply: unknown): RedisEntry[] {
  if (!Array.isArray(reply)) return [];
  return (reply as RawEntry[]).map(([id, flat]) => {
    const text = id.toString('utf8');
    return { id: text, fields: redisEntryFields(flat ?? []), time: redisEntryTime(text) };
  });
}

/**
 * The entries of the one stream an XREAD/XREADGROUP asked for. RESP2 answers
 * `[[key, entries]]`; RESP3 (ioredis 6's default where the server speaks it)
 * answers a map, which ioredis gives as the flat `[key, entries]`.
 */
function streamEntriesOf(reply: unknown): RedisEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first: unknown = reply[0];
  return entriesOf(Buffer.isBuffer(first) || typeof first === 'string' ? reply[1] : (first as unknown[])[1]);
}

async function call(client: RedisCommandClient, command: string, ...args: Array<string | number>): Promise<unknown> {
  try {
    return await client.callBuffer(command, ...args);
  } catch (error) {
    throw new ConsumerError('backend_failed', `Redis ${command} failed: ${(error as Error).message}`);
  }
}

/** Every entry of the range, oldest first, in pages. */
export async function* readRedisRange(client: RedisCommandClient, range: RedisRange): AsyncGenerator<RedisEntry> {
  const page = range.pageSize ?? 500;
  let from = range.since ? `${range.since.getTime()}-0` : '-';
  const to = range.until ? `(${range.until.getTime()}-0` : '+';
  for (;;) {
    const entries = entriesOf(await call(client, 'XRANGE', range.key, from, to, 'COUNT', page));
    for (const entry of entries) yield entry;
    if (entries.length < page) return;
    from = `(${entries.at(-1)!.id}`;
  }
}

/** Entries after `afterId` (`$`: those added from now on), waiting up to `blockMs` for the first. */
export async function readRedisAfter(
  client: RedisCommandClient,
  key: string,
  afterId: string,
  blockMs: number,
  count = 500,
): Promise<RedisEntry[]> {
  const reply = await call(client, 'XREAD', 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, afterId);
  return streamEntriesOf(reply);
}

/** The id of the key's last entry now ('0-0' when it holds none): where a tail that starts now begins. */
export async function lastRedisId(client: RedisCommandClient, key: string): Promise<string> {
  const reply = await call(client, 'XREVRANGE', key, '+', '-', 'COUNT', 1);
  return entriesOf(reply)[0]?.id ?? '0-0';
}

export interface RedisGroupOptions {
  readonly key: string;
  readonly group: string;
  readonly consumer: string;
  /** Entries per XREADGROUP (default 500). */
  readonly count?: number;
}

/** A consumer of a Redis consumer group: reads its pending entries first, then new ones, and acks. */
export class RedisGroupReader {
  /** Where the reading of this consumer's pending entries stands; null once they are all read. */
  private pendingAfter: string | null = '0';
  /** Pending entries found deleted from the stream (no fields left) and acknowledged. */
  deletedAcked = 0;

  constructor(
    private readonly client: RedisCommandClient,
    private readonly options: RedisGroupOptions,
  ) {}

  /** Creates the group (from the stream's first entry, and the key if missing) unless it exists. */
  async start(): Promise<void> {
    try {
      await this.client.callBuffer('XGROUP', 'CREATE', this.options.key, this.options.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message))
        throw new ConsumerError('backend_failed', `Redis XGROUP CREATE failed: ${(error as Error).message}`);
    }
  }

  /**
   * The next entries for this consumer: first those delivered to it before and
   * never acknowledged (a run that stopped early), then new ones. Empty when
   * none came within `blockMs` (0: do not wait).
   */
  async read(blockMs = 0): Promise<RedisEntry[]> {
    while (this.pendingAfter !== null) {
      // Pending entries come back until acknowledged: page through them by id, then switch to new ones.
      const page = await this.readGroup(this.pendingAfter, []);
      this.pendingAfter = page.length === 0 ? null : page.at(-1)!.id;
      // A pending entry deleted since (XDEL, MAXLEN) comes back with no fields: nothing can use it, so it is
      // acknowledged here, else every later run would meet it again.
      const gone = page.filter((e) => e.fields.size === 0).map((e) => e.id);
      if (gone.length > 0) this.deletedAcked += await this.ack(gone);
      const live = page.filter((e) => e.fields.size > 0);
      if (live.length > 0) return live;
    }
    return this.readGroup('>', blockMs > 0 ? ['BLOCK', blockMs] : []);
  }

  /** One XREADGROUP of this consumer from `id` (`>`: entries never delivered; an id: its own pending after it). */
  private async readGroup(id: string, block: Array<string | number>): Promise<RedisEntry[]> {
    const { key, group, consumer, count = 500 } = this.options;
    const reply = await call(
      this.client,
      'XREADGROUP',
      'GROUP',
      group,
      consumer,
      'COUNT',
      count,
      ...block,
      'STREAMS',
      key,
      id,
    );
    return streamEntriesOf(reply);
  }

  /** Acknowledges entries the caller has used; returns how many Redis acknowledged. */
  async ack(ids: readonly string[]): Promise<number> {
    let acked = 0;
    for (let i = 0; i < ids.length; i += 1000) {
      const reply = await call(this.client, 'XACK', this.options.key, this.options.group, ...ids.slice(i, i + 1000));
      acked += Number(reply);
    }
    return acked;
  }
}
