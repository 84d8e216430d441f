/**
 * The network between the service and its backend, made unreliable on demand:
 * a TCP proxy on a free port that forwards to the backend, and can
 * - stall: stop forwarding in both directions without closing anything (a
 *   hung switch or a backend frozen in a long command), until unstalled;
 * - cut: drop every connection and refuse new ones (accept, then close) until
 *   restored, so the service sees a backend that keeps hanging up.
 * Bytes that arrive while stalled wait in the sockets and go on afterwards.
 */
import net from 'node:net';

const HOST = '127.0.0.1';

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly pairs = new Set<Pair>();
  private readonly sockets = new Set<net.Socket>();
  private cutOff = false;
  private stalled = false;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, resolve);
    });
    this.port = (server.address() as net.AddressInfo).port;
  }

  stall(): void {
    if (this.stalled) return;
    this.stalled = true;
    for (const pair of this.pairs) this.pausePair(pair);
  }

  unstall(): void {
    if (!this.stalled) return; // piping twice would forward every byte twice
    this.stalled = false;
    for (const pair of this.pairs) this.resumePair(pair);
  }

  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  /** Back to forwarding everything (the end of any fault). */
  heal(): void {
    this.restore();
    this.unstall();
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.cutOff) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, HOST);
    this.track(upstream);
    const pair = { client, upstream };
    this.pairs.add(pair);
    if (this.stalled) this.pausePair(pair);
    else this.resumePair(pair);
    client.on('close', () => {
      this.pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  }

  private pausePair({ client, upstream }: Pair): void {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  }

  private resumePair({ client, upstream }: Pair): void {
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // the other side of a cut pair resets: expected
  }
}
