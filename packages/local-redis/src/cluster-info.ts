/**
 * What one cluster node says about the cluster: CLUSTER INFO (state, nodes it knows), its
 * replication link, and CLUSTER SLOTS (which node serves a slot). Needs a connected client to
 * that node; used by cluster.ts to wait for a ready cluster and for a failover.
 */
import type { Redis } from 'ioredis';

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
