/**
 * @ingest/consumer: reads the ingest service's records back from Redis Streams
 * or Kafka, removes duplicate frames, checks order, reports gaps, and writes
 * each call as a WAV file (docs/consumer.md).
 */
export { ConsumerError, type ConsumerErrorCode } from './consumer-error.js';
export { frameSizesOf, splitFrames, type FrameSizeSource } from './frame-sizes.js';
export {
  kafkaMessageFields,
  parseRecord,
  redisEntryFields,
  redisEntryTime,
  type AudioRecord,
  type ConsumedRecord,
  type DtmfRecord,
  type Encoding,
  type EndedRecord,
  type MarkRecord,
  type RecordFields,
  type Source,
  type StartedRecord,
} from './consumed-record.js';
export {
  CallAssembler,
  CallAssembly,
  ClosedCall,
  type AssembleOptions,
  type AssembledCall,
  type AssembledTrack,
  type CallEvent,
  type Gap,
} from './call-assembler.js';
export { alawToLinear, expandG711, mulawToLinear } from './g711.js';
export { encodeWav, silenceByte, type WavOutput, type WavTrack } from './wav-encoder.js';
export {
  callStreams,
  callWav,
  callWavLayout,
  streamsWav,
  type CallStream,
  type CallWavLayout,
  type PlacedStream,
} from './call-wav.js';
export {
  lastRedisId,
  readRedisAfter,
  readRedisRange,
  RedisGroupReader,
  type RedisCommandClient,
  type RedisEntry,
  type RedisGroupOptions,
  type RedisRange,
} from './redis-record-source.js';
export { KafkaTopicReader, type KafkaMessageIn, type KafkaReadOptions } from './kafka-record-source.js';

/** The record types of docs/protocol.md section 3. */
export const RECORD_TYPES = ['stream_started', 'audio', 'stream_ended', 'dtmf', 'mark'] as const;
