/**
 * The telephony settings (docs/telephony.md), validated like the rest: every
 * problem at once, secrets masked, and the refusal to start an Exotel source
 * that cannot tell Exotel from anyone else.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, type ConfigProblem } from '../../../src/shared/config/config';
import { maskedConfig } from '../../../src/shared/config/config-mask';
import { formatConfigReport } from '../../../src/shared/config/config-report';

function problemsOf(env: NodeJS.ProcessEnv): ConfigProblem[] {
  const result = loadConfig(env);
  assert.equal(result.ok, false, 'expected configuration problems');
  return result.ok ? [] : result.problems;
}

function okOf(env: NodeJS.ProcessEnv) {
  const result = loadConfig(env);
  if (!result.ok) assert.fail(formatConfigReport(result, { color: false }));
  return result;
}

test('SUPPORT_EXOTEL=true with neither credentials nor ranges refuses to start and says how to fix it', () => {
  const problems = problemsOf({ SUPPORT_EXOTEL: 'true', EXOTEL_DEFAULT_TENANT: 't' });
  assert.equal(problems.length, 1);
  assert.equal(problems[0].variable, 'EXOTEL_BASIC_AUTH');
  assert.match(problems[0].expected, /EXOTEL_ALLOWED_CIDRS/);
  assert.match(problems[0].expected, /EXOTEL_ALLOW_UNAUTHENTICATED=true/);
});

test('EXOTEL_ALLOW_UNAUTHENTICATED=true starts, with a warning every time the configuration is loaded', () => {
  const result = okOf({ SUPPORT_EXOTEL: 'true', EXOTEL_ALLOW_UNAUTHENTICATED: 'true', EXOTEL_DEFAULT_TENANT: 't' });
  assert.ok(result.warnings.some((w) => /EXOTEL_ALLOW_UNAUTHENTICATED=true/.test(w)));
  const again = okOf({
    SUPPORT_EXOTEL: 'true',
    EXOTEL_ALLOW_UNAUTHENTICATED: 'true',
    EXOTEL_DEFAULT_TENANT: 't',
    NODE_ENV: 'development',
  });
  assert.ok(again.warnings.some((w) => /EXOTEL_ALLOW_UNAUTHENTICATED=true/.test(w)));
});

test('Exotel settings parse into lists; credentials are masked in reports and in the masked config', () => {
  const { config } = okOf({
    SUPPORT_EXOTEL: 'true',
    EXOTEL_BASIC_AUTH: 'exo:pa=ss=tenant-a, ops:x=tenant-b',
    EXOTEL_ALLOWED_CIDRS: '203.0.113.0/24,2001:db8::/32',
    EXOTEL_ACCOUNT_TENANTS: 'acct1=tenant-a',
    TRUSTED_PROXIES: '10.0.0.1',
  });
  assert.deepEqual(config.exotelBasicAuth, ['exo:pa=ss=tenant-a', 'ops:x=tenant-b']);
  assert.deepEqual(config.exotelAllowedCidrs, ['203.0.113.0/24', '2001:db8::/32']);
  assert.deepEqual(maskedConfig(config).exotelBasicAuth, ['****', '****']);
  const bad = problemsOf({ SUPPORT_EXOTEL: 'true', EXOTEL_BASIC_AUTH: 'exo:secretpw' });
  assert.equal(bad[0].variable, 'EXOTEL_BASIC_AUTH');
  assert.ok(!JSON.stringify(bad).includes('secretpw'), 'a malformed entry is not echoed');
});

test('every telephony problem is reported at once', () => {
  const problems = problemsOf({
    SUPPORT_EXOTEL: 'true',
    EXOTEL_ALLOWED_CIDRS: '10.0.0.0/33',
    EXOTEL_ACCOUNT_TENANTS: 'no-tenant-here',
    EXOTEL_DEFAULT_TENANT: 'has space',
    TWILIO_AUTH_TOKEN: 'token',
    TWILIO_ACCOUNT_TENANTS: 'AC1=t,AC1=u',
  });
  const variables = problems.map((p) => p.variable).sort();
  assert.deepEqual(variables, [
    'EXOTEL_ACCOUNT_TENANTS',
    'EXOTEL_ALLOWED_CIDRS',
    'EXOTEL_DEFAULT_TENANT',
    'TWILIO_ACCOUNT_TENANTS',
    'TWILIO_PUBLIC_URL',
  ]);
});

test('SUPPORT_EXOTEL=true needs a tenant source: a Basic user, the account map or the default', () => {
  const problems = problemsOf({ SUPPORT_EXOTEL: 'true', EXOTEL_ALLOWED_CIDRS: '10.0.0.0/8' });
  assert.deepEqual(
    problems.map((p) => p.variable),
    ['EXOTEL_DEFAULT_TENANT'],
  );
  okOf({ SUPPORT_EXOTEL: 'true', EXOTEL_ALLOWED_CIDRS: '10.0.0.0/8', EXOTEL_ACCOUNT_TENANTS: 'a=t' });
  okOf({ SUPPORT_EXOTEL: 'true', EXOTEL_BASIC_AUTH: 'u:p=t' });
});

test('duplicate users and account sids are refused', () => {
  const problems = problemsOf({
    SUPPORT_EXOTEL: 'true',
    EXOTEL_BASIC_AUTH: 'u:p=t,u:q=s',
    EXOTEL_ACCOUNT_TENANTS: 'a=t,a=s',
  });
  assert.deepEqual(problems.map((p) => p.variable).sort(), ['EXOTEL_ACCOUNT_TENANTS', 'EXOTEL_BASIC_AUTH']);
});

test('Twilio: token and wss:// URL together, a URL without query, and an account map; the token is masked', () => {
  assert.deepEqual(
    problemsOf({ TWILIO_PUBLIC_URL: 'wss://h/v1/twilio', TWILIO_ACCOUNT_TENANTS: 'AC=t' }).map((p) => p.variable),
    ['TWILIO_AUTH_TOKEN'],
  );
  assert.deepEqual(
    problemsOf({
      TWILIO_AUTH_TOKEN: 'tok',
      TWILIO_PUBLIC_URL: 'https://h/v1/twilio',
      TWILIO_ACCOUNT_TENANTS: 'AC=t',
    }).map((p) => p.variable),
    ['TWILIO_PUBLIC_URL'],
  );
  assert.deepEqual(
    problemsOf({
      TWILIO_AUTH_TOKEN: 'tok',
      TWILIO_PUBLIC_URL: 'wss://h/v1/twilio?x=1',
      TWILIO_ACCOUNT_TENANTS: 'AC=t',
    }).map((p) => p.variable),
    ['TWILIO_PUBLIC_URL'],
  );
  assert.deepEqual(
    problemsOf({ TWILIO_AUTH_TOKEN: 'tok', TWILIO_PUBLIC_URL: 'wss://h/v1/twilio' }).map((p) => p.variable),
    ['TWILIO_ACCOUNT_TENANTS'],
  );
  const { config } = okOf({
    TWILIO_AUTH_TOKEN: 'tok-secret',
    TWILIO_PUBLIC_URL: 'wss://h/v1/twilio',
    TWILIO_ACCOUNT_TENANTS: 'AC=t',
  });
  assert.equal(config.twilioPublicUrl, 'wss://h/v1/twilio');
  assert.equal(maskedConfig(config).twilioAuthToken, '****');
});

test('Exotel settings without SUPPORT_EXOTEL are ignored with a warning', () => {
  const result = okOf({ EXOTEL_BASIC_AUTH: 'u:p=t' });
  assert.ok(result.warnings.some((w) => /SUPPORT_EXOTEL is not true/.test(w)));
});
