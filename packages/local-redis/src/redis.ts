/**
 * A private redis-server per test run (or bench run), on 127.0.0.1 and a fresh data dir.
 * Owns: spawning redis-server (no config file; AOF everysec by default, `appendfsync: 'always'`
 * on request), waiting until PING answers from
 * *our* PID, ioredis clients handed out by client(), stop/kill/restart, removing the temp dir.
 * Guarantees: every child is tracked in processes.ts (SIGKILLed at process exit); restart() reuses
 * the same port and dir so the AOF replays; stop() is idempotent and leaves no process behind.
 * Needs injected: nothing; needs the redis-server binary (apt-get install -y redis-server).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServer, redisInstallHint } from '@herald/find-redis';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort, LOOPBACK_HOST } from './ports.js';
import { registerExitCleanup, trackChild, untrackChild } from './processes.js';

const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 50;
const PROBE_TIMEOUT_MS = 1_000;
const STOP_TIMEOUT_MS = 5_000;
const CLIENT_QUIT_TIMEOUT_MS = 1_000;
const LOG_TAIL_CHARS = 4_000;
const BIND_FAILURE = /Address already in use|Could not create server TCP listening socket/i;

export interface RedisHandle {
  /** "redis://127.0.0.1:PORT" */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** PID of the current redis-server process (changes after restart()). */
  readonly pid: number;
  /** Its data folder (a fresh mkdtemp unless opts.dir was given). */
  readonly dir: string;
  /** A new ioredis client, tracked and disconnected on stop(). */
  client(options?: RedisOptions): Redis;
  /** SIGTERM, wait for exit (max ~5 s, then SIGKILL), remove the temp dir; idempotent. */
  stop(): Promise<void>;
  /** SIGKILL now and wait for exit (a crash / outage); clients stay and reconnect after restart(). */
  kill(): Promise<void>;
  /** Start again on the SAME port and dir (AOF replays); stops the running server first. */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /** AOF persistence; default true. */
  appendonly?: boolean;
  /** When AOF fsyncs: `everysec` (default) or `always` (before each reply: strict durability). */
  appendfsync?: 'everysec' | 'always';
  /** Data dir to use (kept on stop); default a fresh temp dir removed on stop. */
  dir?: string;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  extraArgs?: string[];
}

/** The redis-server binary (@herald/find-redis, the one finder), or null. */
export function redisServerPath(): string | null {
  return findRedisServer();
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  log: () => string;
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true if `promise` settles within `ms`, false otherwise; the timer never outlives it. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
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

function spawnRedis(bin: string, port: number, dir: string, opts: StartRedisOptions): Running {
  const args = ['--port', String(port), '--bind', LOOPBACK_HOST, '--save', ''];
  args.push('--appendonly', opts.appendonly === false ? 'no' : 'yes');
  args.push('--appendfsync', opts.appendfsync ?? 'everysec');
  args.push('--dir', dir, '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning');
  args.push(...(opts.extraArgs ?? []));
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
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

class StartFailure extends Error {
  constructor(
    message: string,
    readonly bindFailed: boolean,
  ) {
    super(message);
  }
}

async function waitReady(running: Running, port: number): Promise<void> {
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

async function terminate(running: Running, signal: NodeJS.Signals): Promise<void> {
  const { child } = running;
  if (isRunning(child)) child.kill(signal);
  const exitedInTime = await settlesWithin(running.exited, STOP_TIMEOUT_MS);
  if (!exitedInTime && isRunning(child)) {
    child.kill('SIGKILL');
    await running.exited;
  }
  if (child.pid !== undefined) untrackChild(child.pid);
}

async function disconnectClient(client: Redis): Promise<void> {
  if (client.status === 'ready' && (await settlesWithin(client.quit(), CLIENT_QUIT_TIMEOUT_MS))) return;
  client.disconnect();
}

class RedisServer implements RedisHandle {
  readonly host = LOOPBACK_HOST;
  private readonly clients = new Set<Redis>();
  private stopping: Promise<void> | null = null;
  private readonly unregisterCleanup: () => void;

  constructor(
    private readonly bin: string,
    readonly port: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly opts: StartRedisOptions,
    private running: Running,
  ) {
    const keep = process.env['HERALD_KEEP_TMP'] === '1';
    this.unregisterCleanup =
      ownsDir && !keep ? registerExitCleanup(() => rmSync(dir, { recursive: true, force: true })) : () => {};
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get pid(): number {
    return this.running.child.pid ?? -1;
  }

  client(options: RedisOptions = {}): Redis {
    if (this.stopping) throw new Error(`redis on ${this.url} is stopped; client() is not available`);
    const client = new Redis({ host: this.host, port: this.port, ...options });
    // Outage tests kill the server on purpose; commands still reject, but no console noise.
    client.on('error', () => {});
    this.clients.add(client);
    client.once('end', () => this.clients.delete(client));
    return client;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await Promise.all([...this.clients].map(disconnectClient));
    this.clients.clear();
    await terminate(this.running, 'SIGTERM');
    if (this.ownsDir && process.env['HERALD_KEEP_TMP'] !== '1') {
      await rm(this.dir, { recursive: true, force: true });
    }
    this.unregisterCleanup();
  }

  async kill(): Promise<void> {
    if (this.stopping) return;
    await terminate(this.running, 'SIGKILL');
  }

  async restart(): Promise<void> {
    if (this.stopping) throw new Error(`redis on ${this.url} was stopped; restart() is not possible`);
    await terminate(this.running, 'SIGTERM');
    const running = spawnRedis(this.bin, this.port, this.dir, this.opts);
    this.running = running;
    try {
      await waitReady(running, this.port);
    } catch (err) {
      await terminate(running, 'SIGKILL');
      throw err;
    }
  }
}

/** Start a private redis-server on 127.0.0.1 and a free port; resolves once PING answers. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  const bin = redisServerPath();
  if (bin === null) throw new Error(`${redisInstallHint()}\nThen run the tests again.`);
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'herald-redis-')));
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort(LOOPBACK_HOST);
    const running = spawnRedis(bin, port, dir, opts);
    try {
      await waitReady(running, port);
      return new RedisServer(bin, port, dir, ownsDir, opts, running);
    } catch (err) {
      lastError = err;
      await terminate(running, 'SIGKILL');
      if (!(err instanceof StartFailure && err.bindFailed)) break;
    }
  }
  if (ownsDir && process.env['HERALD_KEEP_TMP'] !== '1') await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
