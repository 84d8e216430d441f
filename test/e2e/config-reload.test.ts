/**
 * SIGHUP re-reads the configuration before rolling the workers: JWT key
 * rotation through JWT_PUBLIC_KEY_FILE, settings from CONFIG_FILE, without
 * downtime. A configuration that no longer validates leaves the running
 * workers serving, and settings owned by the primary wait for a full restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { IngestClient, UpgradeRefused } from '../../src/client/ingest-client';
import { startCluster, type RunningCluster } from '../support/cluster';
import { freePort } from '../support/free-port';
import { makeKeyPair, signToken, type TestKeyPair } from '../support/tokens';

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-reload-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Streams a few frames with a token for `keys`; resolves with the ack seqs seen. */
async function streamWith(url: string, keys: TestKeyPair): Promise<number[]> {
  const client = await IngestClient.connect(url, { token: signToken(keys.privateKey, { tenant_id: 'tenant-a' }) });
  await client.start({ interactionId: `reload-${Date.now()}` });
  for (let i = 0; i < 6; i++) client.sendFrame(Buffer.alloc(160, i));
  const { close } = await client.stop();
  assert.equal(close.code, 1000);
  return client.messages.filter((m) => m.type === 'ack').map((m) => m.seq as number);
}

async function refusedWith(url: string, keys: TestKeyPair): Promise<number> {
  const err = await IngestClient.connect(url, { token: signToken(keys.privateKey, { tenant_id: 'tenant-a' }) }).then(
    (c) => {
      c.close();
      return assert.fail('expected a refusal');
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof UpgradeRefused, String(err));
  return err.status;
}

async function roll(cluster: RunningCluster, count: number): Promise<void> {
  cluster.child.kill('SIGHUP');
  await cluster.waitForLog(
    (e) =>
      e.msg === 'rolling restart complete' &&
      cluster.logs().filter((x) => x.msg === 'rolling restart complete').length >= count,
    `rolling restart ${count} complete`,
  );
}

test(
  '3 SIGHUP re-reads JWT_PUBLIC_KEY_FILE and CONFIG_FILE: a rotated key and a new ' +
    "ACK_INTERVAL reach the new workers; the primary's own settings wait for a full restart",
  async (t) => {
    const dir = tempDir(t);
    const oldKey = makeKeyPair('ec');
    const newKey = makeKeyPair('ec');
    const keyFile = path.join(dir, 'jwt.pem');
    const configFile = path.join(dir, 'ingest.json');
    fs.writeFileSync(keyFile, oldKey.publicKeyPem);
    fs.writeFileSync(configFile, JSON.stringify({ ACK_INTERVAL: 2 }));
    const port = await freePort();
    const cluster = await startCluster(t, {
      PORT: String(port),
      WORKERS: '2',
      JWT_PUBLIC_KEY_FILE: keyFile,
      CONFIG_FILE: configFile,
    });
    await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
    const url = `ws://127.0.0.1:${port}/v1/ingest`;
    assert.deepEqual(await streamWith(url, oldKey), [2, 4, 6]);
    assert.equal(await refusedWith(url, newKey), 401);

    fs.writeFileSync(keyFile, newKey.publicKeyPem); // rotation: only the new key from now on
    fs.writeFileSync(configFile, JSON.stringify({ ACK_INTERVAL: 3, METRICS_SCRAPE_TIMEOUT_MS: 1234 }));
    await roll(cluster, 1);
    const changed = cluster.logs().find((e) => e.msg === 'configuration changed: the new workers use it');
    assert.ok(changed, 'the changed settings are logged');
    assert.ok((changed.settings as string[]).includes('ACK_INTERVAL'));
    assert.ok(
      (changed.settings as string[]).includes('JWT_PUBLIC_KEY_FILE') ||
        (changed.settings as string[]).includes('JWT_PUBLIC_KEY'),
    );
    const kept = cluster
      .logs()
      .find((e) => e.msg === 'these settings change only with a full restart: kept as they were');
    assert.deepEqual(kept?.settings, ['METRICS_SCRAPE_TIMEOUT_MS']);

    assert.deepEqual(
      await streamWith(url, newKey),
      [3, 6],
      'the new workers verify the new key and ack every 3 frames',
    );
    assert.equal(await refusedWith(url, oldKey), 401, 'the old key is no longer accepted');
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);

test(
  '3 SIGHUP with a configuration that no longer validates ' + 'refuses the roll; the running workers keep serving',
  async (t) => {
    const dir = tempDir(t);
    const key = makeKeyPair('ec');
    const keyFile = path.join(dir, 'jwt.pem');
    fs.writeFileSync(keyFile, key.publicKeyPem);
    const port = await freePort();
    const cluster = await startCluster(t, { PORT: String(port), WORKERS: '2', JWT_PUBLIC_KEY_FILE: keyFile });
    await cluster.waitForLog((e) => e.msg === 'all workers ready', 'workers ready');
    const pids = cluster
      .logs()
      .filter((e) => e.role === 'primary' && e.msg === 'worker ready')
      .map((e) => e.worker_pid);

    fs.writeFileSync(keyFile, 'not a key');
    cluster.child.kill('SIGHUP');
    const refused = await cluster.waitForLog(
      (e) => e.msg?.toString().startsWith('rolling restart refused') === true,
      'the roll refused',
    );
    assert.match((refused.problems as string[]).join('\n'), /JWT_PUBLIC_KEY_FILE/);
    await streamWith(`ws://127.0.0.1:${port}/v1/ingest`, key);
    assert.ok(
      !cluster.logs().some((e) => e.msg === 'rolling restart: replacing workers one at a time'),
      'no roll started',
    );
    assert.deepEqual(
      cluster
        .logs()
        .filter((e) => e.role === 'primary' && e.msg === 'worker ready')
        .map((e) => e.worker_pid),
      pids,
      'the same workers serve',
    );
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
  },
);
