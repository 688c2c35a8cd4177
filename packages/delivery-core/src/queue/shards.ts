/**
 * Queue shards as pure math: which shard a message is in, from its id alone, so every reader
 * (story, queue operations, finishJob, the bounce-processor's feedback markers) finds a message
 * with nothing but its id. A message id is 9 base-36 digits of time and 16 hex digits; from the
 * registry's `since` on (shard-registry.ts), the first two hex digits are the shard (0-255), so a
 * message stays where it was spooled when `queue.shards` changes. Ids older than `since` were
 * spooled before any process used more than one shard: all in shard 0. Other ids (not Herald's
 * format) are in shard 0. A job id is `<message id>.<n>`: its message's shard.
 */

/** What the queue's shards look like to this process. */
export interface ShardLayout {
  /** `queue.shards` of this process: new messages go to shards 0 … count-1. */
  readonly count: number;
  /** The highest count any process used: workers and readers serve shards 0 … max-1. */
  readonly max: number;
  /** From this time (epoch ms) message ids carry their shard; absent: every message is in shard 0. */
  readonly since?: number;
}

/** One shard, no id carries a shard: a single-slot installation. */
export const SINGLE_SHARD: ShardLayout = Object.freeze({ count: 1, max: 1 });

const TIME_DIGITS = 9;
const SHARD_HEX_DIGITS = 2;
const HERALD_ID = /^[0-9a-z]{9}[0-9a-f]{16}$/;

/** The shard of a message id or a job id (`<message id>.<n>`). */
export function shardOf(id: string, layout: ShardLayout): number {
  if (layout.since === undefined) return 0;
  const dot = id.indexOf('.');
  const messageId = dot < 0 ? id : id.slice(0, dot);
  if (!HERALD_ID.test(messageId)) return 0;
  if (Number.parseInt(messageId.slice(0, TIME_DIGITS), 36) < layout.since) return 0;
  const shard = Number.parseInt(messageId.slice(TIME_DIGITS, TIME_DIGITS + SHARD_HEX_DIGITS), 16);
  // A shard past every count ever used cannot be this id's: an id of an older Herald (random).
  return shard < layout.max ? shard : 0;
}

/** The shards to serve and read: 0 … max-1. */
export function allShards(layout: ShardLayout): number[] {
  return Array.from({ length: layout.max }, (_, i) => i);
}

/** The hex digits that put a message id in `shard` (they replace the random part's first two). */
export function shardHex(shard: number): string {
  return shard.toString(16).padStart(SHARD_HEX_DIGITS, '0');
}

/**
 * Picks the shard of each new message: round robin over 0 … count-1, so shards fill evenly
 * whatever the ids' randomness.
 */
export function shardPicker(count: number): () => number {
  let next = 0;
  return () => {
    const shard = next;
    next = (next + 1) % count;
    return shard;
  };
}

/** The shard an Idempotency-Key's scope (a hex digest) is claimed in, and its message spooled in. */
export function scopeShard(scope: string, count: number): number {
  return count <= 1 ? 0 : Number.parseInt(scope.slice(0, 8), 16) % count;
}
