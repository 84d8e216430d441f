/**
 * The pub/sub backends, by the name PUBSUB_ADAPTER takes. The schema validates
 * against this list and each publisher declares its name with this type, so a
 * new backend cannot be configurable without a publisher (or the reverse).
 */
export const ADAPTER_NAMES = ['in_memory', 'redis_streams', 'kafka'] as const;

export type AdapterName = (typeof ADAPTER_NAMES)[number];
