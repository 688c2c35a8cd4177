/**
 * Every cluster client Herald makes is guarded against three ioredis 5.x faults met in failover
 * tests: the slot refresh that outlives its client (slots-refresh.ts), the cluster pipeline that
 * never settles (pipeline-routing.ts) and the `connect()` that never settles when its first ready
 * check fails (connect-settles.ts). `guardCluster` applies both to a client and to every
 * client `duplicate()` makes of it (BullMQ duplicates its connection for blocking reads).
 */
import type { Cluster } from 'ioredis';
import { guardConnectSettles } from './connect-settles.js';
import { guardPipelineRouting } from './pipeline-routing.js';
import { guardSlotsRefresh } from './slots-refresh.js';

const GUARDED = Symbol('herald.clusterGuarded');

export function guardCluster<T extends Cluster>(cluster: T): T {
  const c = cluster as T & { [GUARDED]?: true };
  if (c[GUARDED]) return cluster;
  c[GUARDED] = true;
  guardSlotsRefresh(cluster);
  guardPipelineRouting(cluster);
  guardConnectSettles(cluster);
  const duplicate = cluster.duplicate;
  c.duplicate = function guardedDuplicate(this: Cluster, ...args: Parameters<Cluster['duplicate']>) {
    return guardCluster(duplicate.apply(this, args));
  } as Cluster['duplicate'];
  return cluster;
}
