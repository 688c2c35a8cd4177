/**
 * A large message body into and out of Redis in pieces of BODY_PIECE_BYTES, so that neither the
 * relay nor Redis holds more than the body plus a piece or two, and no other command on a shared
 * connection waits behind tens of megabytes. (ioredis copies a command's arguments into one
 * buffer, and a transaction's commands once more into one write: a body SET inside the enqueue
 * MULTI costs two extra copies of it; its reply parser keeps a large reply's socket chunks until
 * the last one, then joins them into a second copy.)
 * - `stageBody` (before the enqueue MULTI): SET of the first piece with an expiry of
 *   BODY_STAGING_TTL_MS, then APPEND of each next piece, one at a time, each acknowledged within
 *   the step deadline. The enqueue MULTI then PERSISTs the key together with the message record
 *   and jobs (spool.ts), so a body whose staging failed, or whose relay died before the EXEC,
 *   expires by itself; one that is spooled never does. The expiry is far longer than any staging
 *   can take (every piece and the EXEC are bounded by the caller's step deadline, seconds each).
 * - `readBody`: GETRANGE piece by piece into one buffer of the size recorded at enqueue.
 * A body of at most BODY_PIECE_BYTES is written by one SET inside the MULTI and read by one GET.
 * Needs injected: the ioredis connection; the step deadline (none: wait as long as Redis does).
 */
import type { RedisClient } from '../redis/index.js';
import { withDeadline } from '../util/index.js';

/** Bodies larger than this are staged and read in pieces of this size. */
export const BODY_PIECE_BYTES = 1024 * 1024;
/** Expiry of a staged body until the enqueue MULTI PERSISTs it. */
export const BODY_STAGING_TTL_MS = 60 * 60 * 1000;

export const isPiecewise = (bytes: number) => bytes > BODY_PIECE_BYTES;

const bounded = <T>(work: Promise<T>, deadlineMs: number | undefined, what: string): Promise<T> =>
  deadlineMs === undefined ? work : withDeadline(work, deadlineMs, what);

/**
 * Writes `body` to `key` piece by piece, with the staging expiry. On a failure (or a missed
 * deadline) it deletes what it wrote, best effort, and rethrows; the expiry covers the rest.
 */
export async function stageBody(
  redis: RedisClient,
  key: string,
  body: Buffer,
  deadlineMs?: number,
): Promise<void> {
  try {
    for (let at = 0; at < body.length; at += BODY_PIECE_BYTES) {
      const piece = body.subarray(at, at + BODY_PIECE_BYTES);
      const write = at === 0 ? redis.set(key, piece, 'PX', BODY_STAGING_TTL_MS) : redis.append(key, piece);
      await bounded(write as Promise<unknown>, deadlineMs, `body piece at ${at} of ${body.length} bytes`);
    }
  } catch (err) {
    redis.del(key).catch(() => {});
    throw err;
  }
}

/**
 * The body at `key`, read in pieces when `size` (the size recorded at enqueue) is large; null
 * when the key does not exist (a missing key has length 0 and is read by GET: null). A body of
 * another length than `size` is read whole instead.
 */
export async function readBody(redis: RedisClient, key: string, size?: number): Promise<Buffer | null> {
  if (size === undefined || !isPiecewise(size)) return redis.getBuffer(key);
  // Not the recorded size (never expected: a body is written once): read it whole.
  if ((await redis.strlen(key)) !== size) return redis.getBuffer(key);
  const body = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += BODY_PIECE_BYTES) {
    const end = Math.min(at + BODY_PIECE_BYTES, size);
    const piece = await redis.getrangeBuffer(key, at, end - 1);
    if (piece.length !== end - at) return redis.getBuffer(key);
    piece.copy(body, at);
  }
  return body;
}
