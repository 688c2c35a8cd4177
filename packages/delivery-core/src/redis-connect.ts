/**
 * The one Redis connection factory. `connectRedis(target, …)` opens an ioredis `Redis` (target
 * `{url}`) or `Cluster` (target `{cluster: seeds}`), connected within `timeoutMs` or a
 * HERALD_REDIS_UNAVAILABLE naming the first error Redis gave (a refused AUTH says WRONGPASS /
 * NOAUTH, where ioredis's own rejection says only "Connection is closed."), passwords masked.
 * `RedisClient` is what code that only sends commands takes; `redisTarget` reads the config's
 * `redis` section. Used by createHerald, the relay, the HTTP API, the CLI and the bench.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { maskUrl } from './config/index.js';
import { HeraldError } from './errors/index.js';
import { guardCluster, isCluster, type RedisClient, useLeanPipelines } from './redis/index.js';
import { withDeadline } from './util/index.js';

/** Which Redis: one server by URL, or a cluster by its seed nodes (`host:port` or URLs). */
export type RedisTarget = { url: string } | { cluster: readonly string[] };

const DEFAULT_REDIS_PORT = 6379;
/**
 * A cluster client re-reads the slot map this often even when no MOVED or failed command asks it
 * to: after a failover every connection (a blocked BullMQ one too) drops the dead master soon.
 * The rounds stop when the client closes (redis/cluster-guards.ts).
 */
export const CLUSTER_SLOTS_REFRESH_MS = 2_000;
const URL_SEED = /^rediss?:\/\//;
/**
 * A cluster connection that rides out failovers (`rideFailovers`, BullMQ's connections) keeps a
 * command whose master went away for about this long before failing it: a retry every
 * FAILOVER_RETRY_DELAY_MS (re-reading the slot map) until the replica has taken over. Each retry
 * costs at most two of the cluster's redirections (a MOVED to the dead master, then its refused
 * connection), so the budget is twice the retries. Without it ioredis gives up after 16
 * redirections, about a second, and BullMQ then fails a job it had finished (the worker moves
 * it to failed: a retry a minute later, a duplicate delivery).
 */
export const FAILOVER_RIDE_MS = 30_000;
const FAILOVER_RETRY_DELAY_MS = 200;
const FAILOVER_MAX_REDIRECTIONS = 2 * Math.ceil(FAILOVER_RIDE_MS / FAILOVER_RETRY_DELAY_MS);
const RIDING_FAILOVERS: Pick<
  ClusterOptions,
  'retryDelayOnFailover' | 'retryDelayOnClusterDown' | 'retryDelayOnTryAgain' | 'maxRedirections'
> = {
  retryDelayOnFailover: FAILOVER_RETRY_DELAY_MS,
  retryDelayOnClusterDown: FAILOVER_RETRY_DELAY_MS,
  retryDelayOnTryAgain: FAILOVER_RETRY_DELAY_MS,
  maxRedirections: FAILOVER_MAX_REDIRECTIONS,
};

/** How a client is made besides its ioredis options. */
export interface ClientKind {
  /** On a cluster: keep retrying a command through a failover (FAILOVER_RIDE_MS). */
  rideFailovers?: boolean;
}

export interface ConnectRedisOptions {
  timeoutMs: number;
  /** ioredis options besides `lazyConnect` (always on: the connect is awaited here). */
  redis?: RedisOptions;
  /** Sees every connection error (e.g. to log it); the first one names a failed connect. */
  onError?(err: Error): void;
}

/** The target the config's `redis` section names (exactly one of url / cluster is set there). */
export function redisTarget(redis: {
  readonly url?: string;
  readonly cluster?: readonly string[];
}): RedisTarget {
  if (redis.cluster !== undefined) return { cluster: redis.cluster };
  if (redis.url === undefined) throw new Error('redis config names neither url nor cluster');
  return { url: redis.url };
}

/** The target for messages and logs: the URL or every seed, passwords masked. */
export function describeRedisTarget(target: RedisTarget | string): string {
  if (typeof target === 'string') return maskUrl(target);
  if ('url' in target) return maskUrl(target.url);
  return `cluster ${target.cluster.map(maskUrl).join(', ')}`;
}

interface ClusterSeeds {
  nodes: { host: string; port: number }[];
  access: Pick<RedisOptions, 'username' | 'password' | 'tls'>;
}

function parseSeed(seed: string): { host: string; port: number } {
  const url = new URL(URL_SEED.test(seed) ? seed : `redis://${seed}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port === '' ? DEFAULT_REDIS_PORT : Number(url.port) };
}

/** Seeds → addresses, plus what a URL seed says about access (the schema checks they agree). */
export function clusterSeeds(seeds: readonly string[]): ClusterSeeds {
  const access: ClusterSeeds['access'] = {};
  const first = seeds.find((s) => URL_SEED.test(s));
  if (first !== undefined) {
    const url = new URL(first);
    if (url.username !== '') access.username = decodeURIComponent(url.username);
    if (url.password !== '') access.password = decodeURIComponent(url.password);
    if (url.protocol === 'rediss:') access.tls = {};
  }
  return { nodes: seeds.map(parseSeed), access };
}

/**
 * Cluster-level options from the node options given (the rest apply to every node). Never
 * auto-pipelined: ioredis runs one auto-pipeline per group of nodes at a time and queues every
 * later command of the group behind it, and in a failover one such pipeline (a cluster pipeline
 * whose commands were queued on a node but never written) waited for good; every command to that
 * master then waited too — a delivery thread's lease finishes, mark reads and shaping admissions,
 * for minutes, until the process restarted (found by test/cluster-failover.test.ts, about one run
 * in ten). Each command on its own is retried and redirected by the cluster client, or fails.
 */
function clusterOptions(seeds: ClusterSeeds, redis: RedisOptions, kind: ClientKind): ClusterOptions {
  const { enableOfflineQueue, enableAutoPipelining: _never, lazyConnect, ...node } = redis;
  return {
    lazyConnect: lazyConnect ?? true,
    slotsRefreshInterval: CLUSTER_SLOTS_REFRESH_MS,
    ...(kind.rideFailovers ? RIDING_FAILOVERS : {}),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    enableAutoPipelining: false,
    redisOptions: { ...node, ...seeds.access },
  };
}

/**
 * A client for `target`, the same options for both kinds (for a cluster, `enableOfflineQueue` and
 * `lazyConnect` apply to the cluster, the rest to every node; `enableAutoPipelining` is ignored:
 * see clusterOptions). Not
 * connected unless `lazyConnect: false` is given. `kind.rideFailovers`: see FAILOVER_RIDE_MS.
 * Pipelines are built lean from the first client on (redis/lean-pipelines.ts).
 */
export function createRedisClient(
  target: RedisTarget | string,
  redis: RedisOptions = {},
  kind: ClientKind = {},
): RedisClient {
  useLeanPipelines();
  const t = typeof target === 'string' ? { url: target } : target;
  if ('url' in t) return new Redis(t.url, { lazyConnect: true, ...redis });
  const seeds = clusterSeeds(t.cluster);
  return guardCluster(new Cluster(seeds.nodes, clusterOptions(seeds, redis, kind)));
}

export function connectRedis(target: string | { url: string }, options: ConnectRedisOptions): Promise<Redis>;
export function connectRedis(target: RedisTarget, options: ConnectRedisOptions): Promise<RedisClient>;
export async function connectRedis(
  target: RedisTarget | string,
  options: ConnectRedisOptions,
): Promise<RedisClient> {
  const redis = createRedisClient(target, { ...options.redis, lazyConnect: true });
  let firstError: Error | undefined;
  const onError = (err: Error) => {
    firstError ??= err;
    options.onError?.(err);
  };
  redis.on('error', onError);
  // A cluster reports a node's own failure (e.g. WRONGPASS) as 'node error', its own as 'error'.
  if (isCluster(redis)) redis.on('node error', onError);
  try {
    await withDeadline(redis.connect(), options.timeoutMs, 'connecting to Redis');
    // ioredis SELECTs a URL's /<db> on connect but reports a refusal only as an 'error' event and
    // stays on database 0: a /<db> the server lacks (over its `databases`) must not start a relay
    // on database 0, beside another installation's queue (attack finding).
    const db = isCluster(redis) ? 0 : (redis.options.db ?? 0);
    if (db !== 0) await withDeadline(redis.select(db), options.timeoutMs, `selecting database ${db}`);
    return redis;
  } catch (err) {
    redis.disconnect();
    const reason = firstError ?? (err as Error);
    throw new HeraldError(
      'HERALD_REDIS_UNAVAILABLE',
      // Never the password: a URL with credentials is shown masked (Redis's replies never quote it).
      `cannot connect to Redis at ${describeRedisTarget(target)}: ${maskUrl(reason.message)}`,
      { cause: reason },
    );
  }
}
