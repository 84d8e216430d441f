/**
 * Exotel's Stream and Voicebot applets (protocol.md 4.1). Exotel connects to
 * /v1/ingest (with Basic or no Authorization: Bearer means native) or to
 * /v1/exotel, and proves itself by Basic credentials or by source address.
 * Its messages are snake_case JSON, sometimes camelCase, numbers often strings.
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../../../../shared/config/config-schema';
import { IngestError } from '../../../../shared/errors';
import { AddressAllowList, BasicCredentialStore, parseBasicAuthorization } from '../../../admission/telephony-auth';
import { extractToken } from '../../../admission/token-extractor';
import { accountTenants, compact } from '../source-protocol';
import type { SourceProtocol, TelephonyProvider, TelephonyStart } from '../source-protocol';
import {
  encodingFromName,
  numberField,
  objectField,
  parseLenientNumber,
  rateFromName,
  stringField,
  validSampleRate,
  type JsonObject,
} from '../telephony-message';
import { translateEvent, type ProviderDialect } from '../event-translation';
import { ROUTES } from '../../../../shared/routes';

/** The rates Exotel's `sample-rate` URL parameter offers. */
const QUERY_RATES = new Set([8000, 16000, 24000]);
const DEFAULT_RATE = 8000;

export function exotelProvider(config: Readonly<Config>): TelephonyProvider | undefined {
  if (!config.supportExotel) return undefined;
  const credentials = new BasicCredentialStore(config.exotelBasicAuth);
  const ranges = new AddressAllowList(config.exotelAllowedCidrs);
  const byAccount = accountTenants(config.exotelAccountTenants);
  const defaultTenant = config.exotelDefaultTenant || undefined;
  return {
    source: 'exotel',
    claims: (path, req) => path === ROUTES.exotel || (path === ROUTES.ingest && extractToken(req) === undefined),
    admit(req, clientAddress) {
      const basic = parseBasicAuthorization(req.headers.authorization);
      let knownTenant: string | undefined;
      // Credentials, when configured and given, must be right: a wrong password is
      // refused even from an allowed address. Without configured credentials a
      // Basic header proves nothing, and the address decides.
      if (basic && credentials.size > 0) {
        knownTenant = credentials.tenantFor(basic);
        if (knownTenant === undefined)
          throw new IngestError('exotel_unauthorized', 'the Basic credentials are not valid for Exotel streams');
      } else if (!ranges.allows(clientAddress) && !config.exotelAllowUnauthenticated) {
        throw new IngestError(
          'exotel_unauthorized',
          'Exotel streams need Basic credentials or a source address in EXOTEL_ALLOWED_CIDRS',
        );
      }
      return {
        protocol: exotelProtocol(queryRate(req)),
        knownTenant,
        tenantFor: (start) => knownTenant ?? byAccount(start.accountSid) ?? defaultTenant,
      };
    },
  };
}

/** The `sample-rate` (or `sample_rate`) parameter of the URL Exotel called. */
function queryRate(req: IncomingMessage): number | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(url.slice(q + 1));
  const rate = parseLenientNumber(params.get('sample-rate') ?? params.get('sample_rate') ?? undefined);
  return rate !== undefined && QUERY_RATES.has(rate) ? rate : undefined;
}

export function exotelProtocol(urlRate: number | undefined): SourceProtocol {
  const dialect: ProviderDialect = { start: (message) => startOf(message, urlRate), track: () => undefined };
  return { translate: (message) => translateEvent(message, dialect) };
}

/**
 * The ids are inside `start` and, on some paths, only at the top level. The
 * sample rate: media_format, else the URL's sample-rate, else 8000. PCM16
 * unless the encoding names mu-law or a-law (`raw`, `linear16`, `base64`,
 * `audio/x-raw` all occur and all mean PCM16).
 */
function startOf(message: JsonObject, urlRate: number | undefined): TelephonyStart {
  const start = objectField(message, 'start') ?? {};
  const pick = (name: string): string | undefined => stringField(start, name) ?? stringField(message, name);
  const format = objectField(start, 'media_format') ?? objectField(message, 'media_format');
  const encodingName = stringField(format, 'encoding');
  const callSid = pick('call_sid');
  const streamSid = pick('stream_sid');
  const accountSid = pick('account_sid');
  return {
    callSid,
    streamSid,
    accountSid,
    tracks: [{ track: '', streamId: streamSid }],
    trimmed: [],
    media: {
      encoding: encodingFromName(encodingName) ?? 'pcm_s16le',
      sample_rate:
        validSampleRate(numberField(format, 'sample_rate')) ??
        validSampleRate(rateFromName(encodingName)) ??
        urlRate ??
        DEFAULT_RATE,
      channels: numberField(format, 'channels') === 2 ? 2 : 1,
    },
    metadata: compact({
      call_sid: callSid,
      stream_sid: streamSid,
      account_sid: accountSid,
      from: pick('from'),
      to: pick('to'),
      custom_parameters: objectField(start, 'custom_parameters') ?? objectField(message, 'custom_parameters'),
    }),
  };
}
