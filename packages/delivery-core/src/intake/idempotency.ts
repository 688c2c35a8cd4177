/**
 * Idempotent submission (the HTTP API's `Idempotency-Key`): per tenant and key, the first
 * answer is kept for a TTL and replayed; nothing is enqueued twice. Crash-safe: the answer of a
 * send that spools is written in the spool's enqueue MULTI (`SpoolMessage.idempotency`), so a
 * message in the queue always has its record, and a record always has its message. A claim
 * (one Lua script) returns the stored answer, or sets a short in-flight marker (SET NX PX) so
 * a concurrent duplicate is told "busy" instead of enqueuing again. The record and the marker
 * live in a queue shard (keys/api.ts): the one the scope picks among this process's
 * `queue.shards` (queue/shards.ts `scopeShard`), where intake also spools the send's message. A
 * record stored while another count was in use is in the shard that count picked: before a claim,
 * those shards (one per count up to the highest ever used) are read too, so a changed count never
 * replays a send. Needs injected: an ioredis client, the key prefix and the shard layout.
 */
import { createHash } from 'node:crypto';
import { idempotencyKeys } from '../keys/index.js';
import { type ShardLayout, SINGLE_SHARD, scopeShard } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';

/** How long an in-flight marker holds when its holder dies before finishing (ms). */
export const IDEMPOTENCY_LEASE_MS = 60_000;

/**
 * KEYS[1] record, KEYS[2] in-flight marker; ARGV[1] marker lease ms.
 * Returns {'done', record} | {'busy'} | {'claimed'}.
 */
const CLAIM_LUA = `
local record = redis.call('GET', KEYS[1])
if record then return {'done', record} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return {'claimed'} end
return {'busy'}`;
const CLAIM_COMMAND = 'heraldIdempotencyClaim';

export type IdempotencyClaim = { state: 'done'; record: string } | { state: 'busy' } | { state: 'claimed' };

/** What the spool writes with a message: the record under `scope`, kept `ttlMs`. */
export interface IdempotencyWrite {
  scope: string;
  value: string;
  ttlMs: number;
}

/** The scope of a client's key: a hash of tenant and key (any printable key makes a safe name). */
export function idempotencyScope(tenant: string, key: string): string {
  return createHash('sha256').update(`${tenant}\n${key}`).digest('hex');
}

export class IdempotencyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly shards: { readonly layout: ShardLayout } = { layout: SINGLE_SHARD },
  ) {
    if (!(CLAIM_COMMAND in redis)) redis.defineCommand(CLAIM_COMMAND, { numberOfKeys: 2, lua: CLAIM_LUA });
  }

  private keys(scope: string) {
    return idempotencyKeys(this.prefix, scope, scopeShard(scope, this.shards.layout.count));
  }

  /** A record kept in the shard another `queue.shards` count picked for `scope`, if any. */
  private async elsewhere(scope: string): Promise<string | undefined> {
    const { count, max } = this.shards.layout;
    const own = scopeShard(scope, count);
    const others = new Set<number>();
    for (let c = 1; c <= max; c++) if (scopeShard(scope, c) !== own) others.add(scopeShard(scope, c));
    if (others.size === 0) return undefined;
    const found = await Promise.all(
      [...others].map((shard) => this.redis.get(idempotencyKeys(this.prefix, scope, shard).record)),
    );
    return found.find((r) => r !== null) ?? undefined;
  }

  async claim(scope: string, leaseMs = IDEMPOTENCY_LEASE_MS): Promise<IdempotencyClaim> {
    const previous = await this.elsewhere(scope);
    if (previous !== undefined) return { state: 'done', record: previous };
    const { record, inFlight } = this.keys(scope);
    const run = (this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<string[]>>)[
      CLAIM_COMMAND
    ]!;
    const [state, stored] = await run.call(this.redis, record, inFlight, leaseMs);
    if (state === 'done') return { state, record: stored ?? '' };
    return { state: state === 'busy' ? 'busy' : 'claimed' };
  }

  /**
   * Stores the answer unless one is stored (SET NX: the enqueue MULTI's record, e.g. a 202, is
   * never replaced by a later answer) and drops the marker.
   */
  async finish(write: IdempotencyWrite): Promise<void> {
    const { record, inFlight } = this.keys(write.scope);
    await this.redis.multi().set(record, write.value, 'PX', write.ttlMs, 'NX').del(inFlight).exec();
  }

  /** Drops the marker without an answer (the request failed: the client may try again). */
  async release(scope: string): Promise<void> {
    await this.redis.del(this.keys(scope).inFlight);
  }
}
