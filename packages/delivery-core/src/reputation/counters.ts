/**
 * The per-tenant counters behind reputation rates, in hourly buckets:
 * `<prefix>:{queue}:rep:<tenant>:<kind>:<hour>` (keys/queue.ts: in a queue shard, `{queue-i}`; a
 * tenant's count is the sum over the shards) (kind: sent =
 * accepted recipients, hard = hard bounces, complaint = feedback reports; hour = epoch ms / 1 h). Each bucket expires after the longest
 * window Herald reads (REPUTATION_MAX_WINDOW_MS) plus one bucket. Pure key math.
 */
import { MS_PER_DAY, MS_PER_HOUR } from '../config/index.js';
import { type ReputationKind, reputationKey } from '../keys/index.js';

export type { ReputationKind };

export const REPUTATION_BUCKET_MS = MS_PER_HOUR;
/** Windows longer than this are read as this (the buckets are gone after it). */
export const REPUTATION_MAX_WINDOW_MS = 7 * MS_PER_DAY;
export const REPUTATION_BUCKET_TTL_MS = REPUTATION_MAX_WINDOW_MS + REPUTATION_BUCKET_MS;

export function reputationBucket(now: number): number {
  return Math.floor(now / REPUTATION_BUCKET_MS);
}

/** The bucket keys of one kind covering the window that ends now (the current bucket included). */
export function windowKeys(
  prefix: string,
  tenant: string,
  kind: ReputationKind,
  now: number,
  windowMs: number,
  shard = 0,
): string[] {
  const last = reputationBucket(now);
  const count = Math.max(1, Math.ceil(Math.min(windowMs, REPUTATION_MAX_WINDOW_MS) / REPUTATION_BUCKET_MS));
  return Array.from({ length: count }, (_, i) => reputationKey(prefix, tenant, kind, last - i, shard));
}
