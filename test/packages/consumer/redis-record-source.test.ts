/**
 * The Redis readers (packages/consumer/src/redis-record-source.ts) against the
 * real Redis: XRANGE in pages of 2 (the `(id` continuation) within a time
 * range, and a group consumer that reads its pending entries again before new
 * ones and acknowledges pending entries deleted from the stream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readRedisRange, RedisGroupReader } from '../../../packages/consumer/src/index';
import { redisScratch } from '../../support/redis';

test('XRANGE pages of 2 read every entry of the range exactly once, in order', async (t) => {
  const { admin, prefix } = redisScratch(t, 'range-pages');
  const key = `${prefix}:s`;
  for (let ms = 1000; ms <= 1009; ms++) {
    await admin.xadd(key, `${ms}-0`, 'n', String(ms));
    if (ms === 1005) await admin.xadd(key, '1005-1', 'n', '1005b');
  }
  const read: string[] = [];
  for await (const e of readRedisRange(admin, { key, since: new Date(1002), until: new Date(1008), pageSize: 2 }))
    read.push(e.fields.get('n')!.toString());
  assert.deepEqual(read, ['1002', '1003', '1004', '1005', '1005b', '1006', '1007']);
});

test('a group consumer reads its pending entries again first, and acknowledges deleted ones', async (t) => {
  const { admin, prefix } = redisScratch(t, 'group-pending');
  const key = `${prefix}:s`;
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(String(await admin.xadd(key, '*', 'n', String(i))));
  const options = { key, group: 'g', consumer: 'c', count: 2 };
  const first = new RedisGroupReader(admin, options);
  await first.start();
  const got = [...(await first.read()), ...(await first.read()), ...(await first.read())].map((e) => e.id);
  assert.deepEqual(got, ids, 'all five delivered (and pending)');
  await first.ack([ids[0]]);
  await admin.xdel(key, ids[2]);

  const again = new RedisGroupReader(admin, options);
  await again.start();
  const pending: string[] = [];
  for (let page = await again.read(); page.length > 0; page = await again.read())
    pending.push(...page.map((e) => e.id));
  assert.deepEqual(pending, [ids[1], ids[3], ids[4]], 'pending entries again, the deleted one left out');
  assert.equal(again.deletedAcked, 1);
  const [count] = (await admin.xpending(key, 'g')) as [number];
  assert.equal(count, 3, 'the deleted entry is no longer pending');
});
