/**
 * Cross-key rules of the telephony settings (docs/telephony.md): each enabled
 * source must be able to tell its provider from anyone else and find a tenant
 * for every stream.
 */
import type { Config } from './config-schema';
import type { Loaded } from './config-rules';
import { splitCredentialEntry, splitTenantEntry, TENANT_PATTERN } from './telephony-entries';

type Key = keyof Config;

const EXOTEL_KEYS: readonly Key[] = [
  'exotelBasicAuth',
  'exotelAllowedCidrs',
  'exotelAccountTenants',
  'exotelDefaultTenant',
  'exotelAllowUnauthenticated',
];

export function checkTelephony(ctx: Loaded): void {
  const v = ctx.values;
  const {
    exotelBasicAuth = [],
    exotelAllowedCidrs = [],
    exotelAccountTenants = [],
    exotelDefaultTenant = '',
    twilioAccountTenants = [],
  } = v;
  checkUnique(
    ctx,
    'exotelBasicAuth',
    exotelBasicAuth.map((e) => splitCredentialEntry(e)?.user),
    'each user once',
  );
  checkUnique(
    ctx,
    'exotelAccountTenants',
    exotelAccountTenants.map((e) => splitTenantEntry(e)?.key),
    'each account_sid once',
  );
  checkUnique(
    ctx,
    'twilioAccountTenants',
    twilioAccountTenants.map((e) => splitTenantEntry(e)?.key),
    'each AccountSid once',
  );
  if (exotelDefaultTenant !== '' && !TENANT_PATTERN.test(exotelDefaultTenant)) {
    ctx.problem('exotelDefaultTenant', 'a tenant id of 1-128 characters without whitespace, commas or =');
  }
  // A list that failed its own format counts as set: its problem is already reported.
  const has = (key: Key, list: readonly string[]): boolean =>
    list.length > 0 || (ctx.isSet(key) && ctx.values[key] === undefined);
  const hasCredentials = has('exotelBasicAuth', exotelBasicAuth);
  if (v.supportExotel) {
    if (!hasCredentials && !has('exotelAllowedCidrs', exotelAllowedCidrs) && v.exotelAllowUnauthenticated === false) {
      ctx.problem(
        'exotelBasicAuth',
        'user:password=tenant entries, or source ranges in EXOTEL_ALLOWED_CIDRS (required with ' +
          'SUPPORT_EXOTEL=true so that only Exotel can stream; to accept anyone, set ' +
          'EXOTEL_ALLOW_UNAUTHENTICATED=true, never in production)',
      );
    }
    if (!hasCredentials && !has('exotelAccountTenants', exotelAccountTenants) && exotelDefaultTenant === '') {
      ctx.problem(
        'exotelDefaultTenant',
        'a tenant id (with SUPPORT_EXOTEL=true every stream needs a tenant: from its EXOTEL_BASIC_AUTH user, ' +
          'from EXOTEL_ACCOUNT_TENANTS, or this default)',
      );
    }
    if (v.exotelAllowUnauthenticated) {
      ctx.warn(
        'EXOTEL_ALLOW_UNAUTHENTICATED=true: Exotel streams are accepted from anyone who can reach /v1/ingest ' +
          'or /v1/exotel, without credentials or an allowed source address; set EXOTEL_BASIC_AUTH or ' +
          'EXOTEL_ALLOWED_CIDRS and turn this off',
      );
    }
  } else if (EXOTEL_KEYS.some((key) => ctx.isSet(key))) {
    ctx.warn('EXOTEL_* settings are ignored: SUPPORT_EXOTEL is not true');
  }
  const { twilioAuthToken, twilioPublicUrl } = v;
  if (twilioAuthToken && twilioPublicUrl === '')
    ctx.problem(
      'twilioPublicUrl',
      'the wss:// URL given to Twilio (required with TWILIO_AUTH_TOKEN: the signature covers it)',
    );
  if (twilioPublicUrl && twilioAuthToken === '')
    ctx.problem(
      'twilioAuthToken',
      'the Twilio auth token (required with TWILIO_PUBLIC_URL: it checks X-Twilio-Signature)',
    );
  if (twilioAuthToken && twilioPublicUrl && !has('twilioAccountTenants', twilioAccountTenants)) {
    ctx.problem(
      'twilioAccountTenants',
      'at least one AccountSid=tenant (Twilio streams take their tenant from this map)',
    );
  }
}

function checkUnique(ctx: Loaded, key: Key, names: ReadonlyArray<string | undefined>, expected: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (name === undefined) continue;
    if (seen.has(name)) return ctx.problem(key, `${expected} (${name} appears twice)`);
    seen.add(name);
  }
}
