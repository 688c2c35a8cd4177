/**
 * The strict-durability barrier's marks (queue/durability.ts): counters the barrier's own
 * connection INCRs before each WAIT / WAITAOF, so that connection's last write (which WAIT and
 * WAITAOF wait for) comes after every write acknowledged before it.
 * - One server: `<prefix>:{queue}:durability-mark`.
 * - A Redis Cluster: WAIT answers for one master, so each master gets a mark of its own, a key in
 *   one of *its* slots: `<prefix>:{durability-<n>}:mark` for the smallest n whose hash tag lands
 *   there (the barrier finds it from the cluster's slot map, queue/durability-cluster.ts). A prefix
 *   with a hash tag of its own pins every Herald key (marks too) to one slot: one mark, on the
 *   master of that slot. Pure key math.
 */
import { queueSlot } from './queue.js';
import { CLUSTER_SLOTS, hashedPart, hashSlot } from './slots.js';

export function durabilityMarkKey(prefix: string): string {
  return `${queueSlot(prefix)}:durability-mark`;
}

/** Candidate n-th cluster mark: `<prefix>:{durability-<n>}:mark`. */
export function clusterMarkKey(prefix: string, n: number): string {
  return `${prefix}:{durability-${n}}:mark`;
}

/**
 * Candidates tried before giving up: a master holding one slot of 16384 is found within this
 * many with probability 1 - e^-12 (one holding a third of the slots, within a handful).
 */
export const MARK_SEARCH_LIMIT = 12 * CLUSTER_SLOTS;

/**
 * The first cluster mark whose slot `owns` accepts, with its slot; undefined when none is found
 * within MARK_SEARCH_LIMIT candidates, or when the prefix pins every key to a slot `owns` refuses.
 */
export function clusterMarkIn(
  prefix: string,
  owns: (slot: number) => boolean,
): { key: string; slot: number } | undefined {
  const pinned = hashedPart(clusterMarkKey(prefix, 0)) !== 'durability-0';
  const limit = pinned ? 1 : MARK_SEARCH_LIMIT;
  for (let n = 0; n < limit; n++) {
    const key = clusterMarkKey(prefix, n);
    const slot = hashSlot(key);
    if (owns(slot)) return { key, slot };
  }
  return undefined;
}
