/**
 * validate:deployment's TLS check. Readability and the key matching the
 * certificate are configuration rules (SSL_KEY_PATH, SSL_CERT_PATH), already
 * checked by the configuration's own line; what the configuration does not
 * judge is time: how many days the certificate has left.
 */
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Config } from '../../shared/config/config-schema';
import { configuredOr, runProbe, type Verdict } from './verdict';

/** Fewer days left than this: yellow, time to renew (ACME clients renew at 30 days too). */
export const RENEW_WITHIN_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

function probeTls(config: Readonly<Config>, now = Date.now()): Verdict {
  if (!config.sslCertPath) {
    return { level: 'skip', message: 'not used (no SSL_KEY_PATH/SSL_CERT_PATH: TLS ends at a proxy, or nowhere)' };
  }
  const cert = new X509Certificate(fs.readFileSync(config.sslCertPath));
  const file = `SSL_CERT_PATH ${config.sslCertPath}`;
  const renew = 'renew it, then `systemctl reload ingest` (SIGHUP) to load it without downtime';
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (now < notBefore) {
    return { level: 'red', message: `${file} is not valid before ${cert.validFrom}: check the host's clock` };
  }
  const days = Math.floor((notAfter - now) / DAY_MS);
  if (now >= notAfter) {
    return { level: 'red', message: `${file} expired ${-days} days ago (${cert.validTo}): ${renew}` };
  }
  if (days < RENEW_WITHIN_DAYS) {
    return { level: 'yellow', message: `${file} expires in ${days} days (${cert.validTo}): ${renew}` };
  }
  return { level: 'green', message: `${file} matches its key, expires in ${days} days (${cert.validTo})` };
}

runProbe(() => configuredOr((config) => probeTls(config)));
