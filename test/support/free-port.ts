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
 * `count` distinct free ports. All are held until every one is picked, so the
 * OS cannot hand out the same port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnAnyPort());
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}
