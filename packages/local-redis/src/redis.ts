/**
 * A private redis-server per test run (or bench run), on 127.0.0.1 and a fresh data dir.
 * Owns: spawning redis-server (no config file; AOF everysec by default, `appendfsync: 'always'`
 * on request; a replica's full sync starts at once, REPL_DISKLESS_SYNC_DELAY_S), waiting until PING answers from
 * *our* PID, ioredis clients handed out by client(), stop/kill/restart, removing the temp dir.
 * Guarantees: every child is tracked in processes.ts (SIGKILLed at process exit); restart() reuses
 * the same port and dir so the AOF replays; stop() is idempotent and leaves no process behind.
 * Needs injected: nothing; needs the redis-server binary (apt-get install -y redis-server).
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServer, redisInstallHint } from '@herald/find-redis';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort, LOOPBACK_HOST } from './ports.js';
import { registerExitCleanup } from './processes.js';
import { type Running, settlesWithin, spawnReady, startOnFreePort, terminate } from './server-process.js';

const CLIENT_QUIT_TIMEOUT_MS = 1_000;
/**
 * Seconds a primary waits, once a replica asks for a full sync, for more replicas to share the
 * transfer (redis.conf `repl-diskless-sync-delay`, 5 s by default): 0, a test's replica (or a
 * cluster node rejoining as one) syncs at once instead of 5 s later.
 */
export const REPL_DISKLESS_SYNC_DELAY_S = 0;

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

function serverArgs(opts: StartRedisOptions): string[] {
  const args = ['--save', '', '--appendonly', opts.appendonly === false ? 'no' : 'yes'];
  args.push('--repl-diskless-sync-delay', String(REPL_DISKLESS_SYNC_DELAY_S));
  args.push('--appendfsync', opts.appendfsync ?? 'everysec', ...(opts.extraArgs ?? []));
  return args;
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
    this.running = await spawnReady(this.bin, this.port, this.dir, serverArgs(this.opts));
  }
}

/** Start a private redis-server on 127.0.0.1 and a free port; resolves once PING answers. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  const bin = redisServerPath();
  if (bin === null) throw new Error(`${redisInstallHint()}\nThen run the tests again.`);
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'herald-redis-')));
  try {
    const { port, running } = await startOnFreePort(
      bin,
      dir,
      () => freePort(LOOPBACK_HOST),
      serverArgs(opts),
    );
    return new RedisServer(bin, port, dir, ownsDir, opts, running);
  } catch (err) {
    if (ownsDir && process.env['HERALD_KEEP_TMP'] !== '1') await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
