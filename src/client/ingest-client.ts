/**
 * A small client for the native protocol: the example client the README and
 * the development start-up log point to, and the driver the tests, the
 * benchmark and the load generator use. It keeps every server message and
 * lets callers wait for conditions instead of sleeping.
 */
import WebSocket from 'ws';

export type TokenPlacement = 'header' | 'query' | 'subprotocol';

export interface ConnectOptions {
  readonly token?: string;
  readonly placement?: TokenPlacement;
  readonly headers?: Record<string, string>;
  /** Accept self-signed certificates (development TLS). */
  readonly insecure?: boolean;
  /** The local address to connect from (a test's client distinct from its proxy on loopback). */
  readonly localAddress?: string;
}

export interface StartOptions {
  readonly interactionId: string;
  readonly encoding?: string;
  readonly sampleRate?: number;
  readonly channels?: number;
  readonly firstSeq?: number;
  readonly metadata?: Record<string, unknown>;
  readonly tenantId?: string;
}

export interface ServerMessage {
  readonly type?: string;
  readonly event?: string;
  readonly [key: string]: unknown;
}

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** A refused upgrade: the HTTP status and the JSON body the server answered with. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; message?: string },
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`upgrade refused with ${status}: ${body.error ?? ''} ${body.message ?? ''}`.trim());
  }
}

export class IngestClient {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<CloseInfo>;
  private waiters: Array<() => void> = [];
  private closeInfo: CloseInfo | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) this.messages.push(JSON.parse(data.toString('utf8')) as ServerMessage);
      this.notify();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.notify();
      });
    });
    ws.on('error', () => undefined); // surfaced through `closed`
  }

  static connect(url: string, options: ConnectOptions = {}): Promise<IngestClient> {
    const placement = options.placement ?? 'header';
    const headers: Record<string, string> = { ...options.headers };
    let target = url;
    let protocols: string[] | undefined;
    if (options.token !== undefined) {
      if (placement === 'header') headers.Authorization = `Bearer ${options.token}`;
      if (placement === 'query')
        target += `${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(options.token)}`;
      if (placement === 'subprotocol') protocols = ['ingest.v1', `bearer.${options.token}`];
    }
    const ws = new WebSocket(target, protocols, {
      headers,
      rejectUnauthorized: !options.insecure,
      perMessageDeflate: false,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new IngestClient(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: { error?: string; message?: string } = {};
          try {
            body = JSON.parse(text) as { error?: string; message?: string };
          } catch {
            body = { message: text };
          }
          reject(new UpgradeRefused(res.statusCode ?? 0, body, res.headers));
        });
      });
      ws.once('error', reject);
    });
  }

  get closeState(): CloseInfo | undefined {
    return this.closeInfo;
  }

  sendJson(body: unknown): void {
    this.ws.send(JSON.stringify(body));
  }

  start(options: StartOptions): Promise<ServerMessage> {
    this.sendJson({
      type: 'start',
      interaction_id: options.interactionId,
      media: {
        encoding: options.encoding ?? 'pcm_s16le',
        sample_rate: options.sampleRate ?? 8000,
        channels: options.channels ?? 1,
      },
      ...(options.firstSeq !== undefined ? { first_seq: options.firstSeq } : {}),
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
      ...(options.tenantId !== undefined ? { tenant_id: options.tenantId } : {}),
    });
    return this.waitForMessage((m) => m.type === 'started' || m.event === 'started');
  }

  sendFrame(frame: Buffer): void {
    this.ws.send(frame, { binary: true });
  }

  /** Sends `stop` and resolves with the `stopped` message and the close. */
  async stop(): Promise<{ stopped: ServerMessage | undefined; close: CloseInfo }> {
    this.sendJson({ type: 'stop' });
    const close = await this.closed;
    const stopped = this.messages.find((m) => m.type === 'stopped' || m.event === 'stopped');
    return { stopped, close };
  }

  /** Highest `committed` seq seen so far (0: none). */
  lastCommitted(): number {
    let max = 0;
    for (const m of this.messages) {
      if ((m.type === 'committed' || m.event === 'committed') && typeof m.seq === 'number' && m.seq > max) max = m.seq;
    }
    return max;
  }

  /** Resolves with the first message matching `predicate`; rejects if the socket closes first. */
  waitForMessage(predicate: (m: ServerMessage) => boolean): Promise<ServerMessage> {
    return this.waitFor(() => this.messages.find(predicate), 'message');
  }

  /** Resolves once `check` returns a value; rejects when the socket closed without it. */
  waitFor<T>(check: () => T | undefined | false, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const value = check();
        if (value !== undefined && value !== false) {
          resolve(value);
          return true;
        }
        if (this.closeInfo) {
          reject(new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) before ${what}`));
          return true;
        }
        return false;
      };
      if (attempt()) return;
      const waiter = (): void => {
        if (attempt()) this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      this.waiters.push(waiter);
    });
  }

  close(code = 1000): void {
    this.ws.close(code);
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
