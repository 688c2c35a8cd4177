/**
 * One redis-server child process: spawn it on 127.0.0.1 with the caller's arguments, wait until
 * PING answers from *its* PID, terminate it (signal, bounded wait, then SIGKILL).
 * Owns: the child and its log tail. Guarantees: every child is tracked in processes.ts (SIGKILLed
 * at process exit) and never keeps node alive. `startOnFreePort` is the one spawn loop: a port from
 * the caller's picker, a new one after a bind failure (another process took it first). Shared by
 * the single server and its replicas (redis.ts) and the cluster's nodes (cluster.ts); not
 * exported from the package.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { LOOPBACK_HOST } from './ports.js';
import { trackChild, untrackChild } from './processes.js';

/** Ports tried before giving up when each one is taken between picking and binding. */
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 50;
const PROBE_TIMEOUT_MS = 1_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_CHARS = 4_000;
const BIND_FAILURE = /Address already in use|Could not create server TCP listening socket/i;

export interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  log: () => string;
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true if `promise` settles within `ms`, false otherwise; the timer never outlives it. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

/** Raw PING + INFO over TCP: did PING answer +PONG, and which process_id answered. */
function probe(port: number): Promise<{ pong: boolean; pid: number | null }> {
  return new Promise((resolve) => {
    let buffer = '';
    const socket = net.connect({ host: LOOPBACK_HOST, port });
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const pid = /process_id:(\d+)/.exec(buffer)?.[1];
      resolve({ pong: buffer.startsWith('+PONG'), pid: pid === undefined ? null : Number(pid) });
    };
    const timer = setTimeout(finish, PROBE_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (/process_id:\d+\r\n/.test(buffer)) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

/** Spawns `redis-server --port <port> --bind 127.0.0.1 --dir <dir> …args` (not yet ready). */
export function spawnRedisServer(bin: string, port: number, dir: string, args: readonly string[]): Running {
  const argv = ['--port', String(port), '--bind', LOOPBACK_HOST, '--dir', dir, '--daemonize', 'no'];
  argv.push('--protected-mode', 'no', '--loglevel', 'warning', ...args);
  const child = spawn(bin, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const append = (chunk: Buffer | string) => {
    tail = (tail + chunk.toString()).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  child.on('error', (err) => append(`\n[spawn error] ${err.message}\n`));
  const exited = new Promise<void>((resolve) => {
    if (!isRunning(child)) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  trackChild(child, `redis-server :${port}`);
  // A test that forgets stop() must not keep node alive; processes.ts kills the child at exit.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void })?.unref?.();
  return { child, exited, log: () => tail };
}

export class StartFailure extends Error {
  constructor(
    message: string,
    readonly bindFailed: boolean,
  ) {
    super(message);
  }
}

export async function waitReady(running: Running, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const { child } = running;
    if (!isRunning(child) || child.pid === undefined) {
      const log = running.log();
      throw new StartFailure(
        `redis-server on port ${port} exited (code ${child.exitCode}, signal ${child.signalCode}) ` +
          `before answering PING. Log tail:\n${log}`,
        BIND_FAILURE.test(log),
      );
    }
    const answer = await probe(port);
    if (answer.pong && answer.pid === child.pid) return;
    if (Date.now() > deadline) {
      throw new StartFailure(
        `redis-server (pid ${child.pid}) did not answer PING on port ${port} within ` +
          `${READY_TIMEOUT_MS} ms. Log tail:\n${running.log()}`,
        false,
      );
    }
    await delay(READY_POLL_MS);
  }
}

export async function terminate(running: Running, signal: NodeJS.Signals): Promise<void> {
  const { child } = running;
  if (isRunning(child)) child.kill(signal);
  const exitedInTime = await settlesWithin(running.exited, STOP_TIMEOUT_MS);
  if (!exitedInTime && isRunning(child)) {
    child.kill('SIGKILL');
    await running.exited;
  }
  if (child.pid !== undefined) untrackChild(child.pid);
}

/** Spawns on `port` and waits until ready; a server that did not get there is SIGKILLed, the error thrown. */
export async function spawnReady(
  bin: string,
  port: number,
  dir: string,
  args: readonly string[],
): Promise<Running> {
  const running = spawnRedisServer(bin, port, dir, args);
  try {
    await waitReady(running, port);
    return running;
  } catch (err) {
    await terminate(running, 'SIGKILL');
    throw err;
  }
}

/**
 * Starts a ready server in `dir` on a port from `pickPort`, trying another port after a bind
 * failure, at most START_ATTEMPTS times; any other failure is thrown at once. The dir is the caller's.
 */
export async function startOnFreePort(
  bin: string,
  dir: string,
  pickPort: () => Promise<number>,
  args: readonly string[],
): Promise<{ port: number; running: Running }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await pickPort();
    try {
      return { port, running: await spawnReady(bin, port, dir, args) };
    } catch (err) {
      lastError = err;
      if (!(err instanceof StartFailure && err.bindFailed)) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
