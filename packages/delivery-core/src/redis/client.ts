/**
 * The Redis connection as the capabilities see it: one server (`Redis`) or a cluster (`Cluster`),
 * both sending commands the same way (a cluster routes each by its key's slot). What differs is
 * commands that name no key (SCAN, INFO, PING, WAIT): on a cluster they must go to the right
 * master, found here from the client's slot map (`Cluster#slots`, typed by ioredis: for each slot
 * the `host:port` of its master first, then its replicas; refreshed by the client on MOVED and
 * every CLUSTER_SLOTS_REFRESH_MS). Needs nothing but ioredis's types; pure.
 */
import type { Cluster, Redis } from 'ioredis';

/** A connection that sends commands: one server or a cluster. */
export type RedisClient = Redis | Cluster;

/** True when the client is a cluster connection (keyless commands reach only one node). */
export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/** Every master of a cluster (as the client knows them now), or the one server. */
export function masters(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}

/** `host:port` of a cluster node's connection: the name the slot map gives it. */
export function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** The master serving `slot` in the client's slot map now (`host:port`); undefined if none. */
export function slotMaster(cluster: Cluster, slot: number): string | undefined {
  return cluster.slots[slot]?.[0];
}

/** The client's connection to node `key` (`host:port`), if the client knows that node now. */
export function clusterNode(cluster: Cluster, key: string): Redis | undefined {
  return cluster.nodes('all').find((node) => nodeKey(node) === key);
}
