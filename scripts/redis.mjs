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

/** The process id of the redis-server answering on `port` (INFO server), or undefined. */
function serverPid(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let seen = '';
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (data) => {
      seen += data.toString();
      const match = /process_id:(\d+)\r\n/.exec(seen);
      if (match || seen.startsWith('-')) {
        socket.destroy();
        resolve(match ? Number(match[1]) : undefined);
      }
    });
    socket.once('error', () => resolve(undefined));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}

/**
 * Starts redis-server with AOF (`appendfsync`: everysec, or always for redis.durability: strict)
 * in `dir`, waits until the server answering on `port` is that child (its INFO process_id), restarts it if it dies later, and returns { url, pid(), stop() }.
 * `log` receives one-line status messages.
 */
export async function superviseRedis({ binary, dir, port, appendfsync = 'everysec', log }) {
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
    appendfsync,
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
  // Ready when the server answering on the port is our child (never another one that holds the
  // port): the caller writes that URL into .herald/herald.yaml.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while ((await serverPid(port)) !== child.pid) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      stopping = true;
      child.kill('SIGTERM');
      throw new Error(
        `redis-server did not start on port ${port} (another process may hold it); see ${join(dir, 'redis.log')}`,
      );
    }
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
