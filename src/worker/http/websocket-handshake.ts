/**
 * The WebSocket handshake of an upgrade the router admitted. ws runs in
 * noServer mode: authentication and limits happen before it, in the router,
 * so a refused client never gets a WebSocket at all.
 */
import { WebSocketServer } from 'ws';
import type { Config } from '../../shared/config/config-schema';
import { selectSubprotocol } from '../admission/token-extractor';
import type { Handshake } from './upgrade-router';

/** Room for the start message (metadata up to 4 KiB) whatever MAX_FRAME_BYTES is. */
const MIN_MESSAGE_BYTES = 16 * 1024;
/** How long a closing handshake may take before the socket is destroyed. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 5_000;

export function websocketHandshake(config: Pick<Config, 'maxFrameBytes'>): Handshake {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: Math.max(config.maxFrameBytes, MIN_MESSAGE_BYTES),
    handleProtocols: (protocols) => selectSubprotocol(protocols),
    // A peer that does not answer our close frame is dropped after this, not
    // ws's 30 s default, which would outlast a default SHUTDOWN_TIMEOUT_MS.
    closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS,
  } as ConstructorParameters<typeof WebSocketServer>[0]);
  return (req, socket, head, accepted) => wss.handleUpgrade(req, socket, head, accepted);
}
