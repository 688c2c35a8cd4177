/**
 * A private Redis Cluster on 127.0.0.1: `masters × (1 + replicasPerMaster)` redis-server processes
 * with `--cluster-enabled yes` (AOF everysec, a temp dir each), joined by `redis-cli --cluster
 * create`, for the tests that run Herald on a cluster and kill a master under load.
 * Owns: the processes (by PID, tracked in processes.ts), their dirs, the Cluster clients handed
 * out by client(). Guarantees: start resolves once every node reports `cluster_state:ok`, knows
 * every node and (with replicas) every replica's link to its master is up, all within bounds;
 * killMaster SIGKILLs the master serving a slot; waitForFailover waits, bounded, until another
 * node serves it and the cluster is ok again; restartNode starts a killed node again on its port
 * and data (it rejoins as a replica of the node that took its slots) and waitForReplica waits,
 * bounded, until a slot's master has a replica online; stop() is idempotent and leaves no process
 * behind.
 * Needs: redis-server and redis-cli (Debian/Ubuntu: redis-tools, installed with redis-server).
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions, type Redis } from 'ioredis';
import { clusterInfo, hasReplicaOnline, onNode, type SlotOwner, slotOwner } from './cluster-info.js';

export type { SlotOwner } from './cluster-info.js';

import { freePortPair, redisCliPath } from './cluster-ports.js';
import { LOOPBACK_HOST } from './ports.js';
import { registerExitCleanup } from './processes.js';
import { REPL_DISKLESS_SYNC_DELAY_S, redisServerPath } from './redis.js';
import { delay, type Running, spawnReady, startOnFreePort, terminate } from './server-process.js';

const CREATE_TIMEOUT_MS = 30_000;
const CLUSTER_OK_TIMEOUT_MS = 20_000;
const FAILOVER_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
/** Failure detection: a master silent this long is failed over by its replica. */
export const DEFAULT_CLUSTER_NODE_TIMEOUT_MS = 1_000;

export interface StartRedisClusterOptions {
  /** Default 3 (the smallest cluster redis-cli creates). */
  masters?: number;
  /** Default 0; 1 for failover tests. */
  replicasPerMaster?: 0 | 1;
  /** cluster-node-timeout; default DEFAULT_CLUSTER_NODE_TIMEOUT_MS. */
  nodeTimeoutMs?: number;
}

export interface ClusterNode {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  /** False once killed. */
  readonly alive: boolean;
}

export interface RedisClusterHandle {
  /** "127.0.0.1:PORT" of every node: the seeds for `redis.cluster`. */
  readonly seeds: string[];
  readonly nodes: readonly ClusterNode[];
  /** A new ioredis Cluster client on the seeds, disconnected on stop(). */
  client(options?: ClusterOptions): Cluster;
  /** The node serving a slot (a number) or a key's slot, as a live node sees it now. */
  masterOf(slotOrKey: number | string): Promise<SlotOwner>;
  /** SIGKILL the master serving the slot; resolves once it is gone. */
  killMaster(slotOrKey: number | string): Promise<ClusterNode>;
  /** Waits until a live node serves the slot and every live node says cluster_state:ok. */
  waitForFailover(slotOrKey: number | string, timeoutMs?: number): Promise<SlotOwner>;
  /** Starts a killed node again (same port, dir, nodes.conf and AOF); resolves once it answers PING. */
  restartNode(port: number): Promise<ClusterNode>;
  /** Waits until the master serving the slot has a replica online (INFO replication). */
  waitForReplica(slotOrKey: number | string, timeoutMs?: number): Promise<SlotOwner>;
  /** SIGTERM every node (SIGKILL after a bound), remove the dirs; idempotent. */
  stop(): Promise<void>;
}

interface NodeProcess {
  port: number;
  dir: string;
  running: Running;
  killed: boolean;
}

const run = promisify(execFile);

/** redis-server's arguments for a cluster node (its port and dir are the spawner's). */
function nodeArgs(nodeTimeoutMs: number): string[] {
  const args = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'];
  // A replica (at the create, or a killed master restarted) syncs at once, not 5 s later.
  args.push('--repl-diskless-sync-delay', String(REPL_DISKLESS_SYNC_DELAY_S));
  args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf');
  args.push('--cluster-node-timeout', String(nodeTimeoutMs));
  return args;
}

async function startNode(bin: string, nodeTimeoutMs: number): Promise<NodeProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-redis-cluster-'));
  try {
    const { port, running } = await startOnFreePort(bin, dir, freePortPair, nodeArgs(nodeTimeoutMs));
    return { port, dir, running, killed: false };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Polls `check` until it returns true, at most `timeoutMs`; the error says what was awaited. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} not within ${timeoutMs} ms`);
    await delay(POLL_MS);
  }
}

class RedisClusterServers implements RedisClusterHandle {
  private readonly clients = new Set<Cluster>();
  private stopping: Promise<void> | null = null;
  private readonly unregisterCleanup: () => void;

  constructor(
    private readonly procs: NodeProcess[],
    private readonly bin: string,
    private readonly nodeTimeoutMs: number,
  ) {
    const keep = process.env['HERALD_KEEP_TMP'] === '1';
    this.unregisterCleanup = keep
      ? () => {}
      : registerExitCleanup(() => {
          for (const p of procs) rmSync(p.dir, { recursive: true, force: true });
        });
  }

  get seeds(): string[] {
    return this.procs.map((p) => `${LOOPBACK_HOST}:${p.port}`);
  }

  get nodes(): ClusterNode[] {
    return this.procs.map((p) => ({
      port: p.port,
      pid: p.running.child.pid ?? -1,
      dir: p.dir,
      alive: !p.killed,
    }));
  }

  client(options: ClusterOptions = {}): Cluster {
    if (this.stopping) throw new Error('the redis cluster is stopped; client() is not available');
    const client = new Cluster(
      this.procs.map((p) => ({ host: LOOPBACK_HOST, port: p.port })),
      options,
    );
    // Failover tests kill a master on purpose: commands still reject, but no console noise.
    client.on('error', () => {});
    this.clients.add(client);
    client.once('end', () => this.clients.delete(client));
    return client;
  }

  /** Runs `fn` on a short-lived plain connection to the first live node that answers. */
  async onLiveNode<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
    let lastError: unknown = new Error('no live node');
    for (const p of this.procs.filter((n) => !n.killed)) {
      try {
        return await onNode(p.port, fn);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  private async slotOf(slotOrKey: number | string): Promise<number> {
    if (typeof slotOrKey === 'number') return slotOrKey;
    return this.onLiveNode(async (r) => Number(await r.call('CLUSTER', 'KEYSLOT', slotOrKey)));
  }

  async masterOf(slotOrKey: number | string): Promise<SlotOwner> {
    const slot = await this.slotOf(slotOrKey);
    return this.onLiveNode((r) => slotOwner(r, slot));
  }

  async killMaster(slotOrKey: number | string): Promise<ClusterNode> {
    const owner = await this.masterOf(slotOrKey);
    const proc = this.procs.find((p) => p.port === owner.port);
    if (!proc) throw new Error(`redis cluster: slot owner :${owner.port} is not one of our nodes`);
    proc.killed = true;
    await terminate(proc.running, 'SIGKILL');
    return { port: proc.port, pid: proc.running.child.pid ?? -1, dir: proc.dir, alive: false };
  }

  async waitForFailover(slotOrKey: number | string, timeoutMs = FAILOVER_TIMEOUT_MS): Promise<SlotOwner> {
    const slot = await this.slotOf(slotOrKey);
    const live = new Set(this.procs.filter((p) => !p.killed).map((p) => p.port));
    let owner: SlotOwner | undefined;
    await waitFor(`a live master for slot ${slot}`, timeoutMs, async () => {
      owner = await this.onLiveNode((r) => slotOwner(r, slot));
      return live.has(owner.port) && (await this.allOk(false));
    });
    return owner!;
  }

  async restartNode(port: number): Promise<ClusterNode> {
    const proc = this.procs.find((p) => p.port === port);
    if (!proc?.killed) throw new Error(`redis cluster: :${port} is not a killed node of this cluster`);
    const running = await spawnReady(this.bin, port, proc.dir, nodeArgs(this.nodeTimeoutMs));
    proc.running = running;
    proc.killed = false;
    return { port, pid: running.child.pid ?? -1, dir: proc.dir, alive: true };
  }

  async waitForReplica(slotOrKey: number | string, timeoutMs = FAILOVER_TIMEOUT_MS): Promise<SlotOwner> {
    const slot = await this.slotOf(slotOrKey);
    let owner: SlotOwner | undefined;
    await waitFor(`a replica online for the master of slot ${slot}`, timeoutMs, async () => {
      owner = await this.onLiveNode((r) => slotOwner(r, slot));
      return onNode(owner.port, hasReplicaOnline);
    });
    return owner!;
  }

  /** Every live node says cluster_state:ok (and, with `complete`, knows every node). */
  async allOk(complete: boolean): Promise<boolean> {
    for (const p of this.procs.filter((n) => !n.killed)) {
      const info = await onNode(p.port, clusterInfo);
      if (info.state !== 'ok') return false;
      if (complete && (info.knownNodes !== this.procs.length || !info.replicationUp)) return false;
    }
    return true;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    await Promise.all(this.procs.map((p) => terminate(p.running, 'SIGTERM')));
    if (process.env['HERALD_KEEP_TMP'] !== '1') {
      await Promise.all(this.procs.map((p) => rm(p.dir, { recursive: true, force: true })));
    }
    this.unregisterCleanup();
  }
}

/**
 * Starts `masters × (1 + replicasPerMaster)` cluster nodes on free loopback ports and joins them;
 * resolves once the cluster is ok on every node.
 */
export async function startRedisCluster(opts: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const bin = redisServerPath();
  const cli = redisCliPath(bin);
  if (bin === null || cli === null) {
    throw new Error(
      'a Redis Cluster needs redis-server and redis-cli (Debian/Ubuntu: apt-get install -y redis-server redis-tools)',
    );
  }
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 0;
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? DEFAULT_CLUSTER_NODE_TIMEOUT_MS;
  const procs: NodeProcess[] = [];
  const servers = new RedisClusterServers(procs, bin, nodeTimeoutMs);
  try {
    const started = await Promise.all(
      Array.from({ length: masters * (1 + replicas) }, () => startNode(bin, nodeTimeoutMs)),
    );
    procs.push(...started);
    const addresses = procs.map((p) => `${LOOPBACK_HOST}:${p.port}`);
    await run(
      cli,
      ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'],
      {
        timeout: CREATE_TIMEOUT_MS,
      },
    );
    await waitFor('cluster_state:ok on every node', CLUSTER_OK_TIMEOUT_MS, () => servers.allOk(true));
    return servers;
  } catch (err) {
    await servers.stop();
    throw err;
  }
}
