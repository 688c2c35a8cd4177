/**
 * The Redis connection as the capabilities see it: one server (`Redis`) or a cluster (`Cluster`),
 * both sending commands the same way (a cluster routes each by its key's slot). What differs is
 * commands that name no key (SCAN, INFO, PING): on a cluster they must go to every master.
 * Needs nothing but ioredis's types; pure.
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
