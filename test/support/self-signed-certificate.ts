import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A self-signed certificate for localhost and its private key, written as
 * `<prefix>key.pem` and `<prefix>cert.pem` in `dir` (node cannot make X.509
 * certificates, so openssl does), valid from now for `days`. The caller owns
 * `dir` and removes it.
 */
export function selfSignedCertificate(dir: string, prefix = '', days = 1): { key: string; cert: string } {
  const key = path.join(dir, `${prefix}key.pem`);
  const cert = path.join(dir, `${prefix}cert.pem`);
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', String(days)];
  execFileSync('openssl', [...args, '-keyout', key, '-out', cert], { stdio: 'pipe' });
  return { key, cert };
}

/**
 * Like selfSignedCertificate, but valid only on 1–2 January 2000: expired.
 * `openssl req -days` takes no past dates; `openssl ca -selfsign` takes any,
 * given a minimal CA set-up (its database and config, written in `dir` too).
 */
export function expiredCertificate(dir: string, prefix = ''): { key: string; cert: string } {
  const key = path.join(dir, `${prefix}key.pem`);
  const cert = path.join(dir, `${prefix}cert.pem`);
  const csr = path.join(dir, `${prefix}csr.pem`);
  const ca = path.join(dir, `${prefix}ca`);
  fs.mkdirSync(ca);
  fs.writeFileSync(path.join(ca, 'index.txt'), '');
  const config = path.join(ca, 'ca.cnf');
  fs.writeFileSync(
    config,
    ['[ca]', 'default_ca = CA', '[CA]', `database = ${ca}/index.txt`, `new_certs_dir = ${ca}`, 'rand_serial = yes']
      .concat(['default_md = sha256', 'policy = any', '[any]', 'commonName = supplied', ''])
      .join('\n'),
  );
  const request = ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost'];
  execFileSync('openssl', [...request, '-keyout', key, '-out', csr], { stdio: 'pipe' });
  const sign = ['ca', '-batch', '-config', config, '-selfsign', '-keyfile', key, '-in', csr, '-out', cert, '-notext'];
  execFileSync('openssl', [...sign, '-startdate', '20000101000000Z', '-enddate', '20000102000000Z'], { stdio: 'pipe' });
  return { key, cert };
}
