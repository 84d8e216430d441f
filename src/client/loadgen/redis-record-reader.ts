/**
 * `--verify redis://…`: notes where the stream key ended before the run
 * (`markRedis`), then reads it from its beginning in pages (XRANGE … COUNT),
 * feeding every entry to the verifier in stream order, entries up to the mark
 * as stored before the run, until the end of the stream is reached with every
 * frame sent found, or the deadline passes with the end reached (a record
 * still on its way gets that long to arrive).
 */
import Redis from 'ioredis';
import type { FrameVerifier } from './frame-verifier';

const PAGE = 1000;
const POLL_MS = 250;

function connect(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true, enableOfflineQueue: true });
  redis.on('error', () => undefined); // a failed command rejects with the same error, which the caller reports
  return redis;
}

/** A stream entry id `ms-seq` as a pair of numbers to compare. */
function idOf(id: string): [bigint, bigint] {
  const [ms, seq] = id.split('-');
  return [BigInt(ms), BigInt(seq ?? '0')];
}

function atOrBefore(id: string, mark: string): boolean {
  const [a, b] = [idOf(id), idOf(mark)];
  return a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]);
}

/** The id of the key's last entry before the run, undefined when it holds none. */
export async function markRedis(url: string, key: string): Promise<string | undefined> {
  const redis = connect(url);
  try {
    await redis.connect();
    const last = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
    return last[0]?.[0];
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

export async function verifyFromRedis(
  url: string,
  key: string,
  verifier: FrameVerifier,
  timeoutMs: number,
  mark: string | undefined,
): Promise<void> {
  const redis = connect(url);
  const deadline = Date.now() + timeoutMs;
  try {
    await redis.connect();
    let from = '-';
    for (;;) {
      const page = await redis.xrangeBuffer(key, from, '+', 'COUNT', PAGE);
      for (const [rawId, flat] of page) {
        const id = rawId.toString('utf8');
        const fields = new Map<string, Buffer>();
        for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i].toString('utf8'), flat[i + 1]);
        verifier.add(fields, mark !== undefined && atOrBefore(id, mark));
        from = `(${id}`;
      }
      if (page.length === PAGE) continue;
      if (verifier.complete || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
