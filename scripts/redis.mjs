/**
 * Starting and supervising a local redis-server for `npm start`, and the hint printed when it is
 * missing. Finding the binary is packages/find-redis's (the one finder), imported by relative
 * path so it works before `npm ci`. Plain Node, no dependencies.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { findRedisServer, redisInstallHint as installHint } from '../packages/find-redis/index.mjs';

export { findRedisServer };

const READY_TIMEOUT_MS = 10_000;
const RESTART_DELAY_MS = 1_000;

export function redisInstallHint() {
  return `${installHint()}\nor point Herald at an existing server: REDIS_URL=redis://127.0.0.1:6379 npm start`;
}

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Starts redis-server with AOF (everysec) in `dir`, restarts it if it dies, and returns
 * { url, stop() }. `log` receives one-line status messages.
 */
export async function superviseRedis({ binary, dir, port, log }) {
  mkdirSync(dir, { recursive: true });
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--daemonize',
    'no',
    '--protected-mode',
    'yes',
    '--logfile',
    join(dir, 'redis.log'),
  ];
  let child;
  let stopping = false;
  const start = () => {
    child = spawn(binary, args, { stdio: 'ignore' });
    child.on('exit', (code, signal) => {
      if (stopping) return;
      log(`redis-server exited (${signal ?? code}); restarting in ${RESTART_DELAY_MS} ms`);
      setTimeout(() => !stopping && start(), RESTART_DELAY_MS);
    });
  };
  start();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ping(port))) {
    if (Date.now() > deadline)
      throw new Error(`redis-server did not answer on port ${port}; see ${join(dir, 'redis.log')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: () => child.pid,
    stop: () =>
      new Promise((resolve) => {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
