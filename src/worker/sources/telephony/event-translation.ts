/**
 * The event shapes Exotel and Twilio share (connected, start, media, dtmf,
 * mark, stop), read leniently into TelephonyEvents. A provider supplies only
 * what differs: how its `start` is read and how it names tracks.
 */
import type { TelephonyEvent, TelephonyStart } from './source-protocol';
import { counterField, field, numberField, objectField, stringField, type JsonObject } from './telephony-message';

export interface ProviderDialect {
  /** Reads the provider's `start` message. */
  start(message: JsonObject): TelephonyStart;
  /** The track a media or dtmf section belongs to; undefined for single-track providers. */
  track(section: JsonObject | undefined): string | undefined;
}

export function translateEvent(message: JsonObject, dialect: ProviderDialect): TelephonyEvent {
  const event = stringField(message, 'event');
  switch (event) {
    case 'connected':
      return { kind: 'connected' };
    case 'start':
      return { kind: 'start', start: dialect.start(message) };
    case 'media': {
      const media = objectField(message, 'media');
      return {
        kind: 'media',
        track: dialect.track(media),
        chunk: counterField(media, 'chunk'),
        payload: field(media, 'payload'),
      };
    }
    case 'dtmf': {
      const dtmf = objectField(message, 'dtmf');
      const digit = stringField(dtmf, 'digit');
      if (digit === undefined) return { kind: 'ignored', reason: 'invalid_field', detail: 'dtmf without a digit' };
      return { kind: 'dtmf', track: dialect.track(dtmf), digit, durationMs: numberField(dtmf, 'duration') };
    }
    case 'mark': {
      const name = stringField(objectField(message, 'mark'), 'name');
      if (name === undefined) return { kind: 'ignored', reason: 'invalid_field', detail: 'mark without a name' };
      return { kind: 'mark', track: undefined, name };
    }
    case 'stop':
      // Exotel says why the stream stopped; Twilio's stop carries no reason.
      return { kind: 'stop', reason: stringField(objectField(message, 'stop'), 'reason') };
    default:
      return { kind: 'ignored', reason: 'unknown_event', detail: `event ${String(event).slice(0, 40)}` };
  }
}
