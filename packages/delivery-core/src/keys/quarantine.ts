/**
 * Quarantine's keys, all in one slot (`{quarantine}`): a held message's record (hash: envelope,
 * body, reason, score, tenant, time), the index of every held id by time and one per tenant
 * (sorted sets, written with the record in one MULTI), and the sweep's lease (used alone). Pure.
 */

export const QUARANTINE_TAG = '{quarantine}';

export interface QuarantineKeys {
  /** One held message (hash). */
  message(id: string): string;
  /** Every held id, scored by the time it was held (sorted set). */
  index: string;
  /** One tenant's held ids by time (sorted set; tenant lower-cased). */
  tenant(tenant: string): string;
  /** The retention sweep's lease (string, PX). */
  sweepLease: string;
}

export function quarantineKeys(prefix: string): QuarantineKeys {
  return {
    message: (id) => `${prefix}:${QUARANTINE_TAG}:msg:${id}`,
    index: `${prefix}:${QUARANTINE_TAG}:index`,
    tenant: (tenant) => `${prefix}:${QUARANTINE_TAG}:tenant:${tenant.toLowerCase()}`,
    sweepLease: `${prefix}:${QUARANTINE_TAG}:sweep-lease`,
  };
}
