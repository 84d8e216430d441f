/**
 * `--verify redis://…`: reads a Redis stream key from its beginning in pages
 * (XRANGE … COUNT), feeding every entry to the verifier in stream order, until
 * every frame sent has been found or the deadline passes with the end of the
 * stream reached (a record still on its way gets that long to arrive).
 */
import Redis from 'ioredis';
import type { FrameVerifier } from './frame-verifier';

const PAGE = 1000;
const POLL_MS = 250;

export async function verifyFromRedis(
  url: string,
  key: string,
  verifier: FrameVerifier,
  timeoutMs: number,
): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true, enableOfflineQueue: true });
  redis.on('error', () => undefined); // a failed command rejects with the same error, which the caller reports
  const deadline = Date.now() + timeoutMs;
  try {
    await redis.connect();
    let from = '-';
    for (;;) {
      const page = await redis.xrangeBuffer(key, from, '+', 'COUNT', PAGE);
      for (const [id, flat] of page) {
        const fields = new Map<string, Buffer>();
        for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i].toString('utf8'), flat[i + 1]);
        verifier.add(fields);
        from = `(${id.toString('utf8')}`;
      }
      if (page.length === PAGE) continue;
      if (verifier.complete || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
