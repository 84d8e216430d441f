/**
 * Decides, before the WebSocket handshake, whether an upgrade request may
 * become a native stream (protocol.md 1.1): finds and verifies the token,
 * applies the connection limits, then MAX_STREAMS_PER_TENANT's fleet-wide
 * lease. Every refusal is an IngestError carrying the HTTP status to answer
 * with. Asynchronous, because a token may name a key the worker has yet to
 * fetch (JWT_JWKS_URL) and the lease is a round trip; the slot is taken once
 * the token is verified, so a wait never holds a slot and the limits are those
 * of that moment. The per-worker limits come first: their refusal costs no
 * round trip.
 */
import type { IncomingMessage } from 'node:http';
import { IngestError } from '../../shared/errors';
import type { ConnectionLimiter } from './connection-limiter';
import type { TenantStreamLimit } from './tenant-stream-leases';
import { extractToken } from './token-extractor';
import type { TokenVerifier } from './token-verifier';

export interface VerifiedIdentity {
  readonly tenantId: string;
  readonly interactionId?: string;
  readonly via: 'header' | 'query' | 'subprotocol';
  readonly clientAddress: string;
  /** Gives the connection slot (and the tenant's lease) back; call once the socket has closed. */
  readonly release: () => void;
  /** Gives the tenant's lease back alone, as soon as the server closes the stream (idempotent). */
  readonly releaseLease: () => void;
}

/** A connection slot and the tenant's lease taken with it. */
export interface AdmittedSlot {
  /** Gives back both: once the socket has closed. */
  readonly release: () => void;
  /**
   * Gives back the lease alone (a no-op without one): once the server has sent
   * its close frame, so that the client's reconnect is not refused by the lease
   * of the stream it resumes. Idempotent, like `release`.
   */
  readonly releaseLease: () => void;
}

const noLease = (): void => undefined;

/**
 * Takes the tenant's lease after the connection slot `release` gives back; the
 * slot is given back when the lease is refused. Resolves with the functions that
 * give back both, and the lease alone. Shared with the telephony gate.
 */
export async function withTenantLease(
  leases: TenantStreamLimit | undefined,
  tenantId: string,
  release: () => void,
): Promise<AdmittedSlot> {
  if (!leases) return { release, releaseLease: noLease };
  let releaseLease: () => void;
  try {
    releaseLease = await leases.acquire(tenantId);
  } catch (err) {
    release();
    throw err;
  }
  return {
    release: () => {
      release();
      releaseLease();
    },
    releaseLease,
  };
}

export class UpgradeGuard {
  constructor(
    private readonly verifier: TokenVerifier | undefined,
    private readonly limiter: ConnectionLimiter,
    /** MAX_STREAMS_PER_TENANT's leases; absent when that limit is off. */
    private readonly leases?: TenantStreamLimit,
  ) {}

  /** Rejects with IngestError (status 401/403/429/503) or resolves with who is connecting. */
  async admit(req: IncomingMessage, clientAddress: string): Promise<VerifiedIdentity> {
    const found = extractToken(req);
    if (!found)
      throw new IngestError(
        'missing_token',
        'a bearer token is required (Authorization header, access_token parameter or bearer.<jwt> subprotocol)',
      );
    if (!this.verifier)
      throw new IngestError('invalid_token', 'native streams are not enabled on this server (no JWT key configured)');
    const token = await this.verifier.verify(found.token);
    const slot = await withTenantLease(
      this.leases,
      token.tenantId,
      this.limiter.acquire(token.tenantId, clientAddress),
    );
    return {
      tenantId: token.tenantId,
      ...(token.interactionId !== undefined ? { interactionId: token.interactionId } : {}),
      via: found.via,
      clientAddress,
      ...slot,
    };
  }
}
