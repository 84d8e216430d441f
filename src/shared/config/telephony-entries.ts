/**
 * The syntax of the telephony list entries (docs/telephony.md). Configuration
 * validation and the worker's Exotel/Twilio code parse entries with these same
 * functions, so an entry the configuration accepts is one the worker understands.
 */

/** Tenant ids named in telephony settings: no whitespace, commas or `=` (the list syntax). */
export const TENANT_PATTERN = /^[^\s,=]{1,128}$/;

export interface CredentialEntry {
  readonly user: string;
  readonly password: string;
  readonly tenant: string;
}

/**
 * One EXOTEL_BASIC_AUTH entry, `user:password=tenant`: the user ends at the
 * first `:` (RFC 7617 forbids it in user names), the tenant starts after the
 * last `=`, so a password may hold `:` and `=` (never `,`, the list separator).
 */
export function splitCredentialEntry(entry: string): CredentialEntry | undefined {
  const colon = entry.indexOf(':');
  const eq = entry.lastIndexOf('=');
  if (colon < 1 || eq <= colon + 1) return undefined;
  const tenant = entry.slice(eq + 1);
  if (!TENANT_PATTERN.test(tenant)) return undefined;
  return { user: entry.slice(0, colon), password: entry.slice(colon + 1, eq), tenant };
}

/** One `account_sid=tenant` entry of EXOTEL_ACCOUNT_TENANTS / TWILIO_ACCOUNT_TENANTS. */
export function splitTenantEntry(entry: string): { readonly key: string; readonly tenant: string } | undefined {
  const m = /^([^\s=,]+)=([^\s=,]{1,128})$/.exec(entry);
  return m ? { key: m[1], tenant: m[2] } : undefined;
}
