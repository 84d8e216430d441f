'use strict';
// Does a Kafka broker answer on host:port? Sends one ApiVersions v0 request and
// checks the reply (matching correlation id, error code 0). A listening socket
// alone is not enough: during start-up and shutdown the port can accept
// connections that never get an answer. Java-free and dependency-free so that
// ops/dev/kafka.sh and test/support/backends/kafka-broker.js can both use it.
//
//   node ops/dev/kafka/probe.js [host] [port] [timeout-ms]   exits 0 when it answers
const net = require('node:net');

const API_VERSIONS = 18;
const CLIENT_ID = 'ingest-probe';

function apiVersionsRequest(correlationId) {
  const clientId = Buffer.from(CLIENT_ID, 'utf8');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length); // request header v1, empty v0 body
  body.writeInt16BE(API_VERSIONS, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/** Resolves true when a broker answers ApiVersions within timeoutMs, false otherwise; never rejects. */
function probeKafka({ host = '127.0.0.1', port = 9092, timeoutMs = 2000 } = {}) {
  const correlationId = Math.floor(Math.random() * 0x7fffffff);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    const finish = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('connect', () => socket.write(apiVersionsRequest(correlationId)));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      // size(4) + correlation id(4) + error code(2) are all we need to read.
      if (received.length < 10) return;
      finish(received.readInt32BE(4) === correlationId && received.readInt16BE(8) === 0);
    });
  });
}

module.exports = { probeKafka };

if (require.main === module) {
  const [host, port, timeoutMs] = process.argv.slice(2);
  probeKafka({
    host: host || undefined,
    port: port ? Number(port) : undefined,
    timeoutMs: timeoutMs ? Number(timeoutMs) : undefined,
  }).then((ok) => {
    process.exitCode = ok ? 0 : 1;
  });
}
