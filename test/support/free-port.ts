/**
 * TCP ports on 127.0.0.1 that nobody listens on right now, picked by the OS
 * (bound on port 0, then released), for whatever a test must give a fixed
 * port: a cluster's PORT, a Prometheus server, a broker that goes down and
 * comes back, or a backend address that refuses connections.
 */
import net from 'node:net';

const HOST = '127.0.0.1';

function listenOnAnyPort(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(server));
  });
}

/**
 * Ports this process handed out already: released, one may be free again and
 * the OS may give it out once more, which would make a later call's PORT equal
 * an earlier call's METRICS_PORT (seen: one in several hundred runs).
 */
const handedOut = new Set<number>();

/**
 * `count` distinct free ports, none handed out before by this process. All are
 * held until every one is picked, so the OS cannot hand out the same port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const picked: number[] = [];
  try {
    while (picked.length < count) {
      const server = await listenOnAnyPort();
      servers.push(server);
      const { port } = server.address() as net.AddressInfo;
      if (!handedOut.has(port)) picked.push(port);
    }
    for (const port of picked) handedOut.add(port);
    return picked;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}
