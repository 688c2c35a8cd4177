/**
 * The strict-durability barrier's mark (queue/durability.ts): one counter the barrier's own
 * connection INCRs before each WAIT / WAITAOF, so that connection's last write (which WAIT and
 * WAITAOF wait for) comes after every enqueue acknowledged before it. In the queue slot, so on a
 * cluster it lives on the node that holds the spool's writes. Pure key math.
 */
import { queueSlot } from './queue.js';

export function durabilityMarkKey(prefix: string): string {
  return `${queueSlot(prefix)}:durability-mark`;
}
