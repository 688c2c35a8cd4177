/**
 * The recipient-domain spread of an account over the queue shards, counted once per domain. Each
 * shard's enqueue MULTI PFADDs the domains of the messages it took into that shard's minute
 * HyperLogLog (counters.ts), so a domain written to through two shards is in two of them, and a
 * sum of per-shard PFCOUNTs would count it twice. Instead, when evaluated: each other shard PFMERGEs
 * its minute HyperLogLogs into one scratch key of its own slot and reads it back (GET: a
 * HyperLogLog is a plain string) in one MULTI that also deletes it (a shard without any of those
 * keys adds nothing); then one MULTI in shard 0's slot
 * SETs those copies as scratch keys (PX SPREAD_SCRATCH_TTL_MS, in case), PFCOUNTs them with shard
 * 0's own minute keys — the union, with HyperLogLog's accuracy — and deletes them. Every multi-key
 * command stays within one slot, so it runs alike on one server and on Redis Cluster. Cost of one
 * count: one MULTI per other shard (in parallel), then one on shard 0; at most one HyperLogLog per
 * shard crosses the wire (a few bytes sparse, 12 KiB dense). Needs injected: a client.
 */
import { randomUUID } from 'node:crypto';
import { behaviourCounterKey, behaviourSpreadScratchKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';

/** Lifetime of a scratch key should its MULTI's DEL never run (they are deleted in the same MULTI). */
export const SPREAD_SCRATCH_TTL_MS = 60_000;

/** The command results of a MULTI, or its first error thrown. */
function resultsOf(results: [Error | null, unknown][] | null, what: string): unknown[] {
  if (!results) throw new Error(`behaviour spread: ${what}: transaction aborted`);
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  return results.map(([, value]) => value);
}

/**
 * Distinct recipient domains of `account` in the minute buckets `minutes` (newest first) over
 * shards 0 … shards-1.
 */
export async function exactSpread(
  redis: RedisClient,
  prefix: string,
  account: string,
  opts: { minutes: readonly number[]; shards: number },
): Promise<number> {
  const keysOf = (shard: number) =>
    opts.minutes.map((minute) => behaviourCounterKey(prefix, account, 'd', minute, shard));
  const token = randomUUID();
  const others = Array.from({ length: Math.max(0, opts.shards - 1) }, (_, i) => i + 1);
  const copies = await Promise.all(
    others.map(async (shard) => {
      const scratch = behaviourSpreadScratchKey(prefix, account, token, shard);
      const [existing, , merged] = resultsOf(
        await redis
          .multi()
          .exists(...keysOf(shard))
          .pfmerge(scratch, ...keysOf(shard))
          .getBuffer(scratch)
          .del(scratch)
          .exec(),
        `merging shard ${shard}`,
      );
      // No minute key in this shard: nothing to add (PFMERGE made an empty one).
      return { shard, merged: Number(existing) > 0 ? (merged as Buffer | null) : null };
    }),
  );
  const own = keysOf(0);
  const present = copies.filter((c): c is { shard: number; merged: Buffer } => c.merged !== null);
  if (present.length === 0) return redis.pfcount(...own);
  const scratch = present.map(({ shard }) => behaviourSpreadScratchKey(prefix, account, token, 0, shard));
  const multi = redis.multi();
  for (const [i, { merged }] of present.entries())
    multi.set(scratch[i]!, merged, 'PX', SPREAD_SCRATCH_TTL_MS);
  multi.pfcount(...own, ...scratch).del(...scratch);
  const values = resultsOf(await multi.exec(), 'counting in shard 0');
  return Number(values[present.length] ?? 0);
}
