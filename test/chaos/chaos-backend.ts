/**
 * The backend a chaos run writes to, private to the run: what the service is
 * told to connect to, the one fault it supports itself (restart), the network
 * between it and the service when that can be cut, and a complete read-back
 * of everything stored, record by record, for the verifier.
 */
import type { FieldMap } from '../support/field-map';
import type { TcpProxy } from './tcp-proxy';

export type BackendKind = 'redis_streams' | 'kafka';

export interface ChaosBackend {
  readonly kind: BackendKind;
  /** The proxy the service talks through, when this backend's network can be cut (not Kafka: see kafka-backend.ts). */
  readonly proxy: TcpProxy | undefined;
  start(): Promise<void>;
  /** The service's backend settings (PUBSUB_ADAPTER and the adapter's own). */
  serviceEnv(): Record<string, string>;
  /**
   * Takes the backend down (hard where it can) and brings it back on the same port and data after `downMs`;
   * resolves, once it answers again, with how long it took to come up (a Redis replays its whole AOF).
   */
  restart(downMs: number): Promise<number>;
  /** Every stored record, oldest first per interaction, one at a time (a long run stores gigabytes). */
  readAll(onRecord: (record: FieldMap) => void): Promise<number>;
  /** Stops the backend and removes its data. Idempotent. */
  close(): Promise<void>;
}
