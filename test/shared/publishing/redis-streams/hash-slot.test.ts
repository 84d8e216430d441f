/**
 * The last-seq key shares the stream key's Redis Cluster slot, whatever the
 * stream key (with or without a hash tag, `{tenant_id}` substituted, tenant
 * ids with braces), so that the script's two keys may live on one shard. The
 * slots are Redis's own answers: CLUSTER KEYSLOT on a private cluster-enabled
 * redis-server (a standalone one refuses the command).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashTagOf, keySlot } from '../../../../src/shared/publishing/redis-streams/hash-slot';
import { lastSeqKeyFor } from '../../../../src/shared/publishing/redis-streams/last-seq-key';
import { streamKeyFor } from '../../../../src/shared/publishing/redis-streams/redis-streams-publisher';
import { compileStreamKey } from '../../../../src/shared/publishing/redis-streams/stream-key-template';
import { startPrivateRedis } from '../../../support/private-redis-server';
import { audioRecord } from '../../../support/sample-records';

const TEMPLATES = [
  'ingest:{interaction_id}:audio',
  'ingest:audio',
  'ingest:{tenant_id}:audio',
  'ingest:{{tenant_id}}:audio',
  '{ingest}:audio:{tenant_id}',
  'x{}y:{tenant_id}',
  'a{b',
  '',
];
const TENANTS = ['acme', 't-42', 'a}b', '{x}', 'ü'];

test('hashTagOf follows the cluster rule: first { to the first } after it, never empty', () => {
  assert.equal(hashTagOf('ingest:{t-42}:audio'), 't-42');
  assert.equal(hashTagOf('{a}{b}'), 'a');
  assert.equal(hashTagOf('a{}{b}'), undefined);
  assert.equal(hashTagOf('a}b{c'), undefined);
  assert.equal(hashTagOf('{{x}}'), '{x');
  assert.equal(hashTagOf('plain'), undefined);
});

test('keySlot and the last-seq key slot agree with CLUSTER KEYSLOT for every stream key', async (t) => {
  const server = await startPrivateRedis(t, ['--cluster-enabled', 'yes']);
  const slotOf = async (key: string): Promise<number> => Number(await server.admin.cluster('KEYSLOT', key));
  assert.equal(keySlot('123456789'), 12739);
  for (const template of TEMPLATES) {
    for (const tenant of TENANTS) {
      // As a single server names the key, and as a cluster does (the placeholder kept as the hash tag).
      const tagged = compileStreamKey(template, true)({ tenant_id: tenant, interaction_id: 'call-1' });
      for (const streamKey of [streamKeyFor(template, tenant), tagged]) {
        const slot = await slotOf(streamKey);
        assert.equal(keySlot(streamKey), slot, `keySlot(${streamKey})`);
        for (const source of ['native', 'twilio'] as const) {
          const seqKey = lastSeqKeyFor(streamKey, { ...audioRecord(tenant, 1, Buffer.alloc(10)), source });
          assert.equal(await slotOf(seqKey), slot, `${seqKey} is not in the slot of ${streamKey}`);
        }
      }
    }
  }
});

test('the last-seq key is readable beside its stream key', () => {
  const record = { ...audioRecord('acme', 1, Buffer.alloc(10)), interaction_id: 'call-1' };
  assert.equal(lastSeqKeyFor('ingest:audio', record), '{ingest:audio}:last_seq:["native","acme","call-1"]');
  assert.equal(lastSeqKeyFor('ingest:{acme}:audio', record), 'ingest:{acme}:audio:last_seq:["native","acme","call-1"]');
});
