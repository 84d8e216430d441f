/**
 * ops/sysctl/90-ingest.conf names only settings this kernel has, each with as
 * many fields as the kernel's own, and its values, the systemd unit's
 * LimitNOFILE and haproxy.cfg's servers hold the arithmetic of docs/operations.md
 * "Kernel and limits for N connections" for that section's N. Nothing is applied.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { HAPROXY_CFG } from '../support/haproxy';
import { REPO_ROOT } from '../support/repo-root';
import { fdsForStreams } from '../../src/primary/deployment/fd-budget';

const SYSCTL_CONF = path.join(REPO_ROOT, 'ops', 'sysctl', '90-ingest.conf');
const UNIT = path.join(REPO_ROOT, 'ops', 'systemd', 'ingest.service');
const OPERATIONS = path.join(REPO_ROOT, 'docs', 'operations.md');
/** Linux's fs.nr_open before anything raises it (include/linux/fs.h: 1024 * 1024). */
const KERNEL_NR_OPEN = 1_048_576;

/** `key = value` lines; anything else but comments and blank lines fails. */
function readSysctlConf(): Map<string, string> {
  const settings = new Map<string, string>();
  fs.readFileSync(SYSCTL_CONF, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (/^\s*(#.*)?$/.test(line)) return;
      // A leading "-": sysctl --system ignores the key where it does not exist (a module not loaded).
      const m = /^-?([a-z0-9_.-]+) = (\S.*)$/.exec(line);
      assert.ok(m, `90-ingest.conf line ${i + 1} is "key = value": ${line}`);
      assert.ok(!settings.has(m[1]), `${m[1]} set once`);
      settings.set(m[1], m[2]);
    });
  return settings;
}

function numbers(settings: Map<string, string>, key: string): number[] {
  const value = settings.get(key);
  assert.ok(value !== undefined, `90-ingest.conf sets ${key}`);
  return value.split(/\s+/).map(Number);
}

/** The N of the docs' "## Kernel and limits for N connections": the one place the target lives. */
function designConnections(): number {
  const m = /^## Kernel and limits for ([\d,]+) connections$/m.exec(fs.readFileSync(OPERATIONS, 'utf8'));
  assert.ok(m, 'docs/operations.md has the "Kernel and limits for N connections" section');
  return Number(m[1].replace(/,/g, ''));
}

test('every setting in 90-ingest.conf exists under /proc/sys, with as many fields as the kernel gives it', () => {
  const settings = readSysctlConf();
  assert.ok(settings.size > 0);
  for (const [key, value] of settings) {
    const file = path.join('/proc/sys', ...key.split('.'));
    assert.ok(fs.existsSync(file), `${key}: ${file} exists on this kernel`);
    const current = fs.readFileSync(file, 'utf8').trim().split(/\s+/);
    const wanted = value.split(/\s+/);
    assert.equal(wanted.length, current.length, `${key}: ${wanted.length} fields, the kernel has ${current.length}`);
    for (const field of wanted) assert.match(field, /^\d+$/, `${key}: ${field} is a whole number`);
  }
});

test('LimitNOFILE, 90-ingest.conf and haproxy.cfg fit the connections docs/operations.md sizes for', () => {
  const connections = designConnections();
  const settings = readSysctlConf();
  const unit = fs.readFileSync(UNIT, 'utf8');
  const nofile = /^LimitNOFILE=(\d+)$/m.exec(unit);
  assert.ok(nofile, 'the unit sets LimitNOFILE to one number');
  const limit = Number(nofile[1]);

  // One process may hold every connection (fd-budget.ts: the arithmetic validate:deployment checks too).
  assert.ok(limit >= fdsForStreams(connections), `LimitNOFILE ${limit} covers ${connections} connections`);
  // Above fs.nr_open the unit cannot start; the file leaves nr_open to the kernel and systemd (which only
  // raises it), so LimitNOFILE stays within the kernel's own floor.
  assert.ok(
    !settings.has('fs.nr_open') && !settings.has('fs.file-max'),
    'systemd raises these; the file would lower them',
  );
  assert.ok(limit <= KERNEL_NR_OPEN, `LimitNOFILE ${limit} ≤ ${KERNEL_NR_OPEN}, Linux's default fs.nr_open`);

  // HAProxy opens one connection per stream to an instance, each from its own source port.
  const [low, high] = numbers(settings, 'net.ipv4.ip_local_port_range');
  // The servers it always has: those of INGEST_BACKEND_3 to _8 (`.if defined(...)` blocks) are optional.
  const always = fs.readFileSync(HAPROXY_CFG, 'utf8').replace(/^\.if [^\n]*\n[\s\S]*?^\.endif$/gm, '');
  const servers = (always.match(/^\s*server\s/gm) ?? []).length;
  assert.ok(servers >= 2, 'haproxy.cfg has several servers');
  assert.ok(
    (high - low + 1) * servers >= connections,
    `${high - low + 1} source ports × ${servers} instances ≥ ${connections} connections`,
  );

  // Every stream paused (backend outage) with its receive buffer full, before TCP memory pressure.
  const page = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
  const [, pressure] = numbers(settings, 'net.ipv4.tcp_mem');
  const [, initialReceive] = numbers(settings, 'net.ipv4.tcp_rmem');
  assert.ok(
    pressure * page >= connections * initialReceive,
    `tcp_mem pressure ${pressure} pages ≥ ${connections} × ${initialReceive} bytes`,
  );

  // Two tracked connections per stream through HAProxy, and as many again closing after a reconnect storm.
  const [conntrackMax] = numbers(settings, 'net.netfilter.nf_conntrack_max');
  const [buckets] = numbers(settings, 'net.netfilter.nf_conntrack_buckets');
  assert.ok(conntrackMax >= 4 * connections, `nf_conntrack_max ${conntrackMax} ≥ 4 × ${connections}`);
  assert.ok(buckets * 4 >= conntrackMax, `nf_conntrack_buckets ${buckets}: at most 4 entries a bucket`);
});
