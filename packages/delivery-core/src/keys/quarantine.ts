/**
 * Quarantine's keys, in the held message's queue shard (`{queue}` / `{queue-i}`, keys/queue.ts:
 * the slot of its event stream and trace, so the hold writes the record, both indexes and the
 * message's `accepted` / `quarantined` events in one MULTI): a held message's record (hash:
 * envelope, body, reason, score, tenant, time), the shard's index of every held id by time and
 * one per tenant (sorted sets), the ids claimed for a release or delete not finished yet (sorted
 * set, by claim time: the sweep puts back a claim left behind); and the sweep's lease (used alone,
 * in shard 0). Pure.
 */
import { queueSlot } from './queue.js';

export interface QuarantineKeys {
  /** One held message (hash). */
  message(id: string): string;
  /** The shard's held ids, scored by the time each was held (sorted set). */
  index: string;
  /** One tenant's held ids in the shard, by time (sorted set; tenant lower-cased). */
  tenant(tenant: string): string;
  /** Ids claimed by a release or delete not finished yet, scored by claim time (sorted set). */
  claims: string;
  /** The retention sweep's lease (string, PX; shard 0 whatever the shard). */
  sweepLease: string;
}

export function quarantineKeys(prefix: string, shard = 0): QuarantineKeys {
  const slot = `${queueSlot(prefix, shard)}:quarantine`;
  return {
    message: (id) => `${slot}:msg:${id}`,
    index: `${slot}:index`,
    tenant: (tenant) => `${slot}:tenant:${tenant.toLowerCase()}`,
    claims: `${slot}:claims`,
    sweepLease: `${queueSlot(prefix)}:quarantine:sweep-lease`,
  };
}
