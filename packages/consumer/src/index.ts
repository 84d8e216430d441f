/** Reading ingest records back: de-duplication, order, gaps, WAV files. */
export const RECORD_TYPES = ['stream_started', 'audio', 'stream_ended', 'dtmf', 'mark'] as const;
