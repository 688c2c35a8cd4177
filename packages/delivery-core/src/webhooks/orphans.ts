/**
 * Orphaned outboxes: the outbox and dead-letter lists of endpoint ids that are neither in the
 * config nor run-time endpoints any more (an endpoint removed from the config keeps its lists —
 * a rename or a typo must not drop batches silently — but nothing sends or shows them).
 * `findOrphans` SCANs for them (at most MAX_ORPHAN_KEYS keys looked at, SCAN_COUNT a call) and
 * counts their batches; `purgeEndpointData` deletes an endpoint's lists and batch records.
 */

import type { WebhookKeys } from '../keys/index.js';
import { type RedisClient, scanKeys } from '../redis/index.js';

/** Keys a SCAN call looks at (a hint to Redis). */
const SCAN_COUNT = 500;
/** Most outbox/dead keys one search reads: a bound on the walk, far above real deployments. */
export const MAX_ORPHAN_KEYS = 10_000;

export interface OrphanedOutbox {
  /** The endpoint id the lists are named after. */
  id: string;
  /** Batches waiting in its outbox. */
  outbox: number;
  /** Batches in its dead-letter list. */
  dead: number;
}

/** Endpoint ids with an outbox or dead-letter list in Redis that are not in `known`, by id. */
export async function findOrphans(
  redis: RedisClient,
  keys: WebhookKeys,
  known: ReadonlySet<string>,
): Promise<OrphanedOutbox[]> {
  const ids = new Set<string>();
  let seen = 0;
  for (const pattern of [keys.outboxPattern, keys.deadPattern]) {
    // Every master of a cluster in turn (the keys share {webhooks}, so one of them has them all).
    for await (const found of scanKeys(redis, pattern, SCAN_COUNT)) {
      for (const key of found) {
        const id = keys.endpointOf(key);
        if (id !== undefined && !known.has(id)) ids.add(id);
      }
      seen += found.length;
      if (seen >= MAX_ORPHAN_KEYS) break;
    }
  }
  const sorted = [...ids].sort();
  if (sorted.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of sorted) pipeline.llen(keys.outbox(id)).llen(keys.dead(id));
  const replies = (await pipeline.exec()) ?? [];
  return sorted.map((id, i) => ({
    id,
    outbox: Number(replies[2 * i]?.[1] ?? 0),
    dead: Number(replies[2 * i + 1]?.[1] ?? 0),
  }));
}

/** Deletes `id`'s outbox, dead-letter list and their batch records; how many batches went. */
export async function purgeEndpointData(redis: RedisClient, keys: WebhookKeys, id: string): Promise<number> {
  const batches = [
    ...(await redis.lrange(keys.outbox(id), 0, -1)),
    ...(await redis.lrange(keys.dead(id), 0, -1)),
  ];
  const tx = redis.multi().del(keys.outbox(id), keys.dead(id));
  for (const batch of batches) tx.del(keys.batch(batch));
  await tx.exec();
  return batches.length;
}
