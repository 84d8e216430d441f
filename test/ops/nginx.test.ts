/**
 * ops/nginx/ingest.conf: `nginx -t` accepts it, and the real nginx in front of
 * two real instances passes native streams through, spreads them over both,
 * forwards the client's address, and sends new streams past an instance that
 * shut down.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { testConfig } from '../support/ingest-server';
import { startRedisCluster } from '../support/redis-cluster';
import { makeKeyPair, signToken } from '../support/tokens';
import { checkNginxConfig, NGINX_CONF, nginxSetup, startNginx } from '../support/nginx';
import { CLIENT_ADDRESS, INSTANCE_ENV, loggedClients, streamsThrough, whereStored } from '../support/proxied-streams';

test('nginx -t accepts ops/nginx/ingest.conf; its timeouts outlast the pings on an upgraded connection', async (t) => {
  const checked = await checkNginxConfig(await nginxSetup(t, [5001, 5002]));
  assert.equal(checked.code, 0, checked.output);
  assert.match(checked.output, /test is successful/);
  const conf = fs.readFileSync(NGINX_CONF, 'utf8');
  const { pingIntervalMs } = testConfig();
  for (const name of ['proxy_read_timeout', 'proxy_send_timeout']) {
    const m = new RegExp(`^\\s*${name} (\\d+)s;$`, 'm').exec(conf);
    assert.ok(m, `${name} set in seconds`);
    assert.ok(Number(m[1]) * 1000 > 2 * pingIntervalMs, `${name} ${m[1]}s > 2 × ${pingIntervalMs} ms`);
  }
});

test(
  'nginx in front of two instances: streams spread over both with the client address, ' +
    'and go to the other once one shuts down',
  { timeout: 120_000 },
  async (t) => {
    const keys = makeKeyPair('ec');
    const token = signToken(keys.privateKey, { tenant_id: 'tenant-a' });
    const env = { ...INSTANCE_ENV, JWT_PUBLIC_KEY: keys.publicKeyPem };
    const instances = [await startRedisCluster(t, 'nginx-1', env), await startRedisCluster(t, 'nginx-2', env)];
    const setup = await nginxSetup(
      t,
      instances.map((i) => i.port),
    );
    await startNginx(t, setup);

    const spread = await streamsThrough(t, setup.url, token, 'spread', 4);
    assert.deepEqual((await whereStored(instances, spread)).sort(), ['ingest1', 'ingest1', 'ingest2', 'ingest2']);
    assert.deepEqual(loggedClients(instances, 'spread'), Array(4).fill(CLIENT_ADDRESS));

    instances[1].cluster.child.kill('SIGTERM');
    assert.deepEqual(await instances[1].cluster.exited, { code: 0, signal: null });
    const failedOver = await streamsThrough(t, setup.url, token, 'stopped', 4);
    assert.deepEqual(await whereStored(instances, failedOver), Array(4).fill('ingest1'));
  },
);
