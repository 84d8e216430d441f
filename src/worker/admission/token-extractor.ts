/**
 * Finds the native stream token on an upgrade request (protocol.md 1.1), and keeps
 * it out of logs. Three places, in order: `Authorization: Bearer <jwt>`, the
 * `access_token` query parameter, and the `bearer.<jwt>` subprotocol offered next
 * to `ingest.v1` (browsers can set neither headers nor, always, query strings).
 */
import type http from 'node:http';

export const INGEST_SUBPROTOCOL = 'ingest.v1';
const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

export interface ExtractedToken {
  token: string;
  via: 'header' | 'query' | 'subprotocol';
}

/**
 * Returns the token and where it was found, or undefined when the request carries
 * no native token. Any Authorization scheme other than Bearer (Basic: an Exotel
 * connection) yields undefined, whatever the query string says.
 */
export function extractToken(req: http.IncomingMessage): ExtractedToken | undefined {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) return fromAuthorization(authorization);
  return fromQuery(req.url) ?? fromSubprotocols(req.headers['sec-websocket-protocol']);
}

/**
 * "Bearer" with an empty or odd credential still means the native protocol: the
 * caller gets the (possibly empty) token and refuses it as invalid, rather than
 * treating the connection as something else.
 */
function fromAuthorization(header: string): ExtractedToken | undefined {
  const match = /^\s*bearer(?:\s+(.*))?$/i.exec(header);
  if (!match) return undefined;
  return { token: (match[1] ?? '').trim(), via: 'header' };
}

/** A present `access_token` parameter, even empty, declares a native client. */
function fromQuery(url: string | undefined): ExtractedToken | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const token = new URLSearchParams(url.slice(q + 1).split('#')[0]).get('access_token');
  return token === null ? undefined : { token, via: 'query' };
}

function fromSubprotocols(header: string | undefined): ExtractedToken | undefined {
  if (header === undefined) return undefined;
  const offered = header.split(',').map((p) => p.trim());
  if (!offered.includes(INGEST_SUBPROTOCOL)) return undefined;
  const bearer = offered.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  return bearer === undefined
    ? undefined
    : { token: bearer.slice(BEARER_SUBPROTOCOL_PREFIX.length), via: 'subprotocol' };
}

/**
 * For ws's `handleProtocols`: selects `ingest.v1` when offered. The bearer.<jwt>
 * entry is never echoed back, since response headers end up in logs and proxies.
 */
export function selectSubprotocol(protocols: Set<string>): string | false {
  return protocols.has(INGEST_SUBPROTOCOL) ? INGEST_SUBPROTOCOL : false;
}

/**
 * Parameter names whose values are secrets: access_token, token, id_token, jwt,
 * password, passwd, pwd, secret, client_secret, api_key, apikey, key, auth, signature, sig,
 * credential(s), whatever their case or prefix (`x-api-key`, `db_password`).
 */
const SECRET_PARAM =
  /^(?:.*[_-])?(?:token|password|passwd|pwd|secret|key|apikey|auth|signature|sig|credentials?)$|^jwt$/i;
/** A JWT wherever it sits (a path segment, a bare fragment): three base64url parts, the first a JSON header. */
const JWT_SHAPE = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g;
/** Userinfo of an absolute-form request target (`ws://user:password@host/...`). */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i;

/**
 * Replaces what could be a credential in a URL with [REDACTED], leaving the rest as
 * it was: the values of secret-named parameters in the query and in the fragment
 * (`#access_token=…`, as OAuth's implicit flow writes it), anything shaped like a
 * JWT, and userinfo. Names are percent-decoded before matching, as URLSearchParams
 * would decode them (`access%5Ftoken` is `access_token`).
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const beforeHash = hash === -1 ? url : url.slice(0, hash);
  const q = beforeHash.indexOf('?');
  let out = q === -1 ? beforeHash : `${beforeHash.slice(0, q + 1)}${redactPairs(beforeHash.slice(q + 1))}`;
  if (hash !== -1) out += `#${redactPairs(url.slice(hash + 1))}`;
  return out.replace(USERINFO, '$1[REDACTED]@').replace(JWT_SHAPE, '[REDACTED]');
}

function redactPairs(text: string): string {
  return text
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      return eq !== -1 && SECRET_PARAM.test(decodeName(rawName)) ? `${rawName}=[REDACTED]` : pair;
    })
    .join('&');
}

function decodeName(raw: string): string {
  const name = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(name);
  } catch {
    return name; // malformed escapes: match on the raw text
  }
}
