import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * A self-signed certificate for localhost and its private key, written as
 * `<prefix>key.pem` and `<prefix>cert.pem` in `dir` (node cannot make X.509
 * certificates, so openssl does). The caller owns `dir` and removes it.
 */
export function selfSignedCertificate(dir: string, prefix = ''): { key: string; cert: string } {
  const key = path.join(dir, `${prefix}key.pem`);
  const cert = path.join(dir, `${prefix}cert.pem`);
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'];
  execFileSync('openssl', [...args, '-keyout', key, '-out', cert], { stdio: 'pipe' });
  return { key, cert };
}
