/**
 * What one cluster node says about the cluster: CLUSTER INFO (state, nodes it knows), its
 * replication link, its replicas, and CLUSTER SLOTS (which node serves a slot); `onNode` runs such
 * a question on a short-lived connection to one node. Used by cluster.ts to wait for a ready
 * cluster, a failover and a replica.
 */
import { Redis } from 'ioredis';
import { LOOPBACK_HOST } from './ports.js';

/** Runs `fn` on a short-lived plain connection to the node on `port` (no retries). */
export async function onNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: LOOPBACK_HOST, port, lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** The port of the first replica of the master on `port` (INFO replication `slave0`), or undefined. */
export function replicaPortOf(port: number): Promise<number | undefined> {
  return onNode(port, async (master) => {
    const found = /^slave0:.*port=(\d+)/m.exec(await master.info('replication'));
    return found ? Number(found[1]) : undefined;
  });
}

/** The node has a replica whose link is online (INFO replication `slaveN:…state=online`). */
export async function hasReplicaOnline(redis: Redis): Promise<boolean> {
  return /^slave\d+:.*state=online/m.test(await redis.info('replication'));
}

export interface NodeClusterInfo {
  /** `ok` or `fail`. */
  state: string;
  knownNodes: number;
  /** A replica's link to its master is up (always true on a master). */
  replicationUp: boolean;
}

export interface SlotOwner {
  slot: number;
  port: number;
  /** The node's cluster id. */
  id: string;
}

function field(text: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

export async function clusterInfo(redis: Redis): Promise<NodeClusterInfo> {
  const info = String(await redis.call('CLUSTER', 'INFO'));
  const replication = await redis.info('replication');
  const role = field(replication, 'role');
  return {
    state: field(info, 'cluster_state') ?? 'unknown',
    knownNodes: Number(field(info, 'cluster_known_nodes') ?? 0),
    replicationUp: role !== 'slave' || field(replication, 'master_link_status') === 'up',
  };
}

type SlotRange = [number, number, [string, number, string, ...unknown[]], ...unknown[]];

/** The master serving `slot` as this node sees it; throws when no node serves it. */
export async function slotOwner(redis: Redis, slot: number): Promise<SlotOwner> {
  const ranges = (await redis.call('CLUSTER', 'SLOTS')) as SlotRange[];
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  if (!range) throw new Error(`redis cluster: no node serves slot ${slot}`);
  const [, port, id] = range[2];
  return { slot, port: Number(port), id };
}
