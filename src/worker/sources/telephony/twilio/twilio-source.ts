/**
 * Twilio Media Streams (protocol.md 4.2), on /v1/twilio when TWILIO_AUTH_TOKEN
 * and TWILIO_PUBLIC_URL are set. The upgrade must carry X-Twilio-Signature over
 * TWILIO_PUBLIC_URL. Audio is always mu-law 8 kHz mono; each track (inbound,
 * outbound) of one WebSocket is its own stream of records.
 */
import type { Config } from '../../../../shared/config/config-schema';
import { IngestError } from '../../../../shared/errors';
import type { MediaFormat } from '../../../../shared/protocol';
import { TwilioSignatureVerifier } from '../../../admission/telephony-auth';
import { accountTenants, compact } from '../source-protocol';
import type { SourceProtocol, TelephonyProvider, TelephonyStart } from '../source-protocol';
import { field, objectField, stringField, type JsonObject } from '../telephony-message';
import { translateEvent, type ProviderDialect } from '../event-translation';
import { ROUTES } from '../../../../shared/routes';

const TWILIO_MEDIA: MediaFormat = Object.freeze({ encoding: 'mulaw', sample_rate: 8000, channels: 1 });
const DEFAULT_TRACK = 'inbound';
/** Twilio sends at most these two (`both_tracks`); any other name in `start.tracks` is left out. */
const TWILIO_TRACKS: ReadonlySet<string> = new Set(['inbound', 'outbound']);

export function twilioProvider(config: Readonly<Config>): TelephonyProvider | undefined {
  if (!config.twilioAuthToken || !config.twilioPublicUrl) return undefined;
  const verifier = new TwilioSignatureVerifier(config.twilioAuthToken, config.twilioPublicUrl);
  const byAccount = accountTenants(config.twilioAccountTenants);
  return {
    source: 'twilio',
    claims: (path) => path === ROUTES.twilio,
    admit(req) {
      const result = verifier.check(req);
      if (result === 'missing') throw new IngestError('twilio_signature_invalid', 'X-Twilio-Signature is required');
      if (result === 'invalid')
        throw new IngestError('twilio_signature_invalid', 'X-Twilio-Signature does not match TWILIO_PUBLIC_URL');
      return { protocol: twilioProtocol, knownTenant: undefined, tenantFor: (start) => byAccount(start.accountSid) };
    },
  };
}

const dialect: ProviderDialect = { start: startOf, track: (section) => trackName(stringField(section, 'track')) };

export const twilioProtocol: SourceProtocol = { translate: (message) => translateEvent(message, dialect) };

/** `inbound_track` (dtmf) and `inbound` (media) name the same track. */
function trackName(value: string | undefined): string | undefined {
  return value === undefined ? undefined : value.replace(/_track$/, '');
}

function startOf(message: JsonObject): TelephonyStart {
  const start = objectField(message, 'start') ?? {};
  const pick = (name: string): string | undefined => stringField(start, name) ?? stringField(message, name);
  const streamSid = pick('stream_sid');
  const callSid = pick('call_sid');
  const accountSid = pick('account_sid');
  const listed = field(start, 'tracks');
  const entries: unknown[] = Array.isArray(listed) ? listed : [];
  const known = new Set<string>();
  for (const entry of entries) {
    const name = typeof entry === 'string' ? trackName(entry) : undefined;
    if (name !== undefined && TWILIO_TRACKS.has(name)) known.add(name);
    if (known.size === TWILIO_TRACKS.size) break;
  }
  const tracks = known.size > 0 ? [...known] : [DEFAULT_TRACK];
  return {
    callSid,
    streamSid,
    accountSid,
    tracks: tracks.map((track) => ({ track, streamId: streamSid === undefined ? undefined : `${streamSid}:${track}` })),
    // Anything listed beyond the tracks kept: unknown names, duplicates, non-strings.
    trimmed: entries.length > known.size ? ['tracks'] : [],
    media: TWILIO_MEDIA,
    metadata: compact({
      call_sid: callSid,
      stream_sid: streamSid,
      account_sid: accountSid,
      tracks,
      custom_parameters: objectField(start, 'custom_parameters'),
    }),
  };
}
