/**
 * Native streams through a load balancer in front of two instances (each
 * publishing to its own Redis key), for the tests of ops/haproxy and ops/nginx:
 * opened from a client address of their own with a forged X-Forwarded-For,
 * finished in full (ack, committed, stopped), and traced to the instance that
 * stored them, every frame checked.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { IngestClient } from '../../src/client/ingest-client';
import { field } from './field-map';
import { frameBytes } from './ingest-server';
import { readStream } from './redis';
import type { RedisCluster } from './redis-cluster';
import { assertAudioCovers, byInteraction, type SentStream } from './stream-check';

export const FRAMES = 30;
/** Where the clients connect from, so the address a balancer forwards is not its own (127.0.0.1). */
export const CLIENT_ADDRESS = '127.0.0.2';
/** What every client claims to be in its own X-Forwarded-For: the service must not believe it. */
export const FORGED_ADDRESS = '203.0.113.7';
/** The settings of both instances: one worker, records published 100 ms after their first frame. */
export const INSTANCE_ENV = {
  WORKERS: '1',
  ACK_INTERVAL: '10',
  BUFFER_DURATION_MS: '100',
  TRUSTED_PROXIES: '127.0.0.1',
};

export interface ProxiedStream {
  readonly client: IngestClient;
  readonly sent: SentStream;
}

/** Connects to `url` (the balancer) and starts a stream. */
export async function openStream(
  t: TestContext,
  url: string,
  token: string,
  interactionId: string,
): Promise<ProxiedStream> {
  const client = await IngestClient.connect(url, {
    token,
    localAddress: CLIENT_ADDRESS,
    headers: { 'X-Forwarded-For': FORGED_ADDRESS },
  });
  t.after(() => {
    if (!client.closeState) client.ws.terminate();
  });
  await client.start({ interactionId });
  const frames = Array.from({ length: FRAMES }, (_, k) => frameBytes(interactionId.length, k + 1));
  return { client, sent: { interactionId, tenantId: 'tenant-a', firstSeq: 1, frames } };
}

/** Sends every frame, waits for the last ack and commit, stops: `stopped` and close 1000. */
export async function finishStream({ client, sent }: ProxiedStream): Promise<void> {
  for (const frame of sent.frames) client.sendFrame(frame);
  await client.waitForMessage((m) => m.type === 'ack' && m.seq === FRAMES);
  await client.waitFor(() => client.lastCommitted() >= FRAMES, `committed ${FRAMES}`);
  const { stopped, close } = await client.stop();
  assert.equal(stopped?.last_seq, FRAMES);
  assert.equal(close.code, 1000);
}

/** `count` streams opened one after another and held open together, then finished. */
export async function streamsThrough(
  t: TestContext,
  url: string,
  token: string,
  label: string,
  count: number,
): Promise<ProxiedStream[]> {
  const streams: ProxiedStream[] = [];
  for (let i = 0; i < count; i++) streams.push(await openStream(t, url, token, `${label}-${i}`));
  await Promise.all(streams.map(finishStream));
  return streams;
}

/** Which instance ('ingest1', 'ingest2') stored each stream, after checking all its frames and its end. */
export async function whereStored(
  instances: readonly RedisCluster[],
  streams: readonly ProxiedStream[],
): Promise<string[]> {
  const stored = await Promise.all(instances.map(async (i) => byInteraction(await readStream(i.admin, i.streamKey))));
  return streams.map(({ sent }) => {
    const holders = stored.flatMap((grouped, k) => (grouped.has(sent.interactionId) ? [k] : []));
    assert.equal(holders.length, 1, `${sent.interactionId}: stored by exactly one instance (${holders.join()})`);
    const records = stored[holders[0]].get(sent.interactionId)!;
    assertAudioCovers(records, sent, FRAMES);
    assert.equal(field(records.at(-1)!, 'type'), 'stream_ended');
    return `ingest${holders[0] + 1}`;
  });
}

/** The client address each instance logged for the streams whose interaction id starts with `label`. */
export function loggedClients(instances: readonly RedisCluster[], label: string): unknown[] {
  return instances
    .flatMap((i) => i.cluster.logs())
    .filter((e) => e.msg === 'stream started' && String(e.interaction_id).startsWith(`${label}-`))
    .map((e) => e.client);
}
