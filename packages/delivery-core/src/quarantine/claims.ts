/**
 * Claims on held messages (keys/quarantine.ts `claims`): a release or delete first takes the
 * message's id out of its shard's index and records the claim, in one script (CLAIM_LUA), so
 * exactly one caller wins and a claim is never without its record of it. The claim ends with the
 * record: a release's enqueue transaction deletes the record and the claim (queue/enqueue-multi.ts),
 * a delete's `drop` likewise; a failed release puts the message back (store.ts `unclaim`). A claim
 * left behind — its process died, or Redis stayed down past the put-back's window — is settled by
 * `recoverClaims` once older than STALE_CLAIM_MS (far longer than any release takes): a record
 * still there is held again (back in its indexes), one marked `deleting` (a delete that may have
 * emitted its events) is dropped, and a claim without a record is forgotten. Needs injected: a
 * client and the shard's keys.
 */
import type { QuarantineKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';

/** A claim older than this is settled by the sweep: no release or delete runs this long. */
export const STALE_CLAIM_MS = 10 * 60_000;
/** Most stale claims one recovery round per shard settles. */
const RECOVER_BATCH = 500;
/** The record field a delete sets before it emits its events. */
export const DELETING_FIELD = 'deleting';

/**
 * KEYS[1] the shard's index of held ids, KEYS[2] its claims.
 * ARGV[1] the message id, ARGV[2] now (epoch ms).
 * Returns 1 when this call took the id out of the index (and recorded the claim), 0 when it was
 * not there (unknown, already claimed, released or deleted).
 */
export const CLAIM_LUA = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  return 1
end
return 0
`;

/** Takes `id` out of the index and records the claim; true for the one caller that wins. */
export async function claimHeld(redis: RedisClient, keys: QuarantineKeys, id: string, now: number) {
  return (await redis.eval(CLAIM_LUA, 2, keys.index, keys.claims, id, String(now))) === 1;
}

/** Settles the shard's claims older than STALE_CLAIM_MS; how many it put back in the indexes. */
export async function recoverClaims(redis: RedisClient, keys: QuarantineKeys, now: number): Promise<number> {
  const stale = await redis.zrangebyscore(
    keys.claims,
    '-inf',
    now - STALE_CLAIM_MS,
    'LIMIT',
    0,
    RECOVER_BATCH,
  );
  let heldAgain = 0;
  for (const id of stale) {
    const [tenant, heldAt, deleting] = await redis.hmget(
      keys.message(id),
      'tenant',
      'heldAt',
      DELETING_FIELD,
    );
    const multi = redis.multi().zrem(keys.claims, id);
    if (tenant && deleting === null) {
      multi.zadd(keys.index, Number(heldAt ?? 0), id).zadd(keys.tenant(tenant), Number(heldAt ?? 0), id);
      heldAgain++;
    } else if (tenant) multi.del(keys.message(id));
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('quarantine claim recovery: transaction aborted');
  }
  return heldAgain;
}
