/**
 * One node for all the commands of a cluster pipeline (a MULTI, an auto-pipeline, a pipeline
 * built by hand), chosen before the first is sent. ioredis (5.x, `Cluster#sendCommand`) chooses a
 * pipeline's node with its first command; when the slot's master is not in its pool (killed, a
 * failover under way) it takes a random node per command until one is accepted, and refuses a
 * command whose random node is still connecting (no offline queue). A pipeline whose first
 * commands were refused and the rest accepted never writes what it holds (it writes once all are
 * written) and never settles: it held a delivery thread's every command to that master (one
 * auto-pipeline per node group at a time) for good in test/cluster-failover.test.ts.
 * `guardPipelineRouting(cluster)` sets the pipeline's node first — the slot's master when the pool
 * has it, else a connected master, else any master — so its commands all go one way: all written,
 * all queued on that node until it connects, or all refused; a redirection (MOVED) then sends the
 * pipeline again, as ioredis does. It relies on `sendCommand(command, stream, node)` with
 * `node: { slot, redis }` for a pipeline's commands, and on `slots` and the connection pool's
 * `getInstanceByKey`, checked here; where they are missing the client is left as ioredis made it.
 */
import type { Cluster, Redis } from 'ioredis';

/** A pipeline's routing record, as ioredis' Pipeline passes it with each command. */
interface PipelineNode {
  slot: number;
  redis?: Redis;
}

interface RoutingInternals {
  status: string;
  slots: string[][];
  connectionPool: { getInstanceByKey(key: string): Redis | undefined };
  nodes(role: 'master'): Redis[];
  sendCommand(command: unknown, stream?: unknown, node?: PipelineNode): unknown;
}

/** Whether the installed ioredis still has what the guard relies on. */
export function canGuardPipelineRouting(cluster: Cluster): boolean {
  const c = cluster as unknown as Partial<RoutingInternals>;
  return (
    typeof c.sendCommand === 'function' &&
    Array.isArray(c.slots) &&
    typeof c.connectionPool?.getInstanceByKey === 'function'
  );
}

/** The node a pipeline for `slot` goes to: its master, a connected master, any master. */
export function pipelineNode(c: RoutingInternals, slot: number): Redis | undefined {
  const masterKey = c.slots[slot]?.[0];
  const master = masterKey === undefined ? undefined : c.connectionPool.getInstanceByKey(masterKey);
  if (master) return master;
  const masters = c.nodes('master');
  return masters.find((n) => n.status === 'ready') ?? masters[0];
}

/** Makes each pipeline of `cluster` send all its commands to one node chosen up front. */
export function guardPipelineRouting<T extends Cluster>(cluster: T): T {
  if (!canGuardPipelineRouting(cluster)) return cluster;
  const c = cluster as unknown as RoutingInternals;
  const send = c.sendCommand;
  c.sendCommand = function routedSendCommand(this: RoutingInternals, command, stream, node) {
    if (node && !node.redis && this.status === 'ready') {
      const chosen = pipelineNode(this, node.slot);
      if (chosen) node.redis = chosen;
    }
    return send.call(this, command, stream, node);
  };
  return cluster;
}
