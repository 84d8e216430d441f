/**
 * How many file descriptors a process of the service needs: the one formula
 * that validate:deployment's check, the systemd unit's LimitNOFILE and
 * docs/operations.md ("Kernel and limits") follow.
 *
 * - A worker holds one descriptor per stream.
 * - Sockets being refused (429, 503) or still in their handshake count against
 *   no MAX_CONNECTIONS_* setting, and a reconnect storm multiplies them: a
 *   tenth of the streams on top.
 * - Node.js's own (stdio, epoll, libuv's event fds), the IPC channel, the
 *   backend connections and key-set fetches: RESERVE_FDS.
 * - The primary handles no streams: with node:cluster's round-robin (Linux's
 *   default) it accepts each connection and passes it on at once, and keeps a
 *   few descriptors per worker (its IPC channel).
 */
import type { Config } from '../../shared/config/config-schema';

export const RESERVE_FDS = 1024;
/** The primary's descriptors per worker: the IPC channel, with room to spare. */
export const PRIMARY_FDS_PER_WORKER = 4;

/** Descriptors for a process that may hold `streams` streams. */
export function fdsForStreams(streams: number): number {
  return Math.ceil(streams * 1.1) + RESERVE_FDS;
}

/** The hard limit a deployment needs per process: the larger of a worker's and the primary's. */
export function neededFds(config: Pick<Config, 'maxConnectionsPerWorker' | 'workers'>): number {
  return Math.max(fdsForStreams(config.maxConnectionsPerWorker), config.workers * PRIMARY_FDS_PER_WORKER + RESERVE_FDS);
}
