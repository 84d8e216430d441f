'use strict';
// Ensures a Redis answers on 127.0.0.1:6379. Starts redis-server when none does
// and returns a function that stops what was started (undefined otherwise).
const net = require('node:net');
const { spawn } = require('node:child_process');

const HOST = '127.0.0.1';
const PORT = 6379;

function ping() {
  return new Promise((resolve) => {
    const socket = net.connect(PORT, HOST);
    let data = '';
    socket.setTimeout(1000);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk;
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.startsWith('+PONG'));
      }
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

async function waitFor(check, what, attempts = 100) {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up`);
}

async function ensureRedis() {
  if (await ping()) return undefined;
  const child = spawn('redis-server', ['--bind', HOST, '--port', String(PORT), '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    detached: false,
  });
  const failed = new Promise((_, reject) =>
    child.on('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`))),
  );
  await Promise.race([waitFor(ping, `redis-server on ${HOST}:${PORT}`), failed]);
  return async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
}

module.exports = { ensureRedis, ping };
