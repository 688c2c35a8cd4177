/**
 * Every Redis-backed call a route makes has a deadline: `within(deps, work)` gives it
 * api.redis_timeout (a read: a story, a status, a page), `within(deps, work, BULK_TIMEOUT_MS)` a
 * fixed longer one (an operation over many jobs or entries). Past the deadline, or when the
 * connection fails, the answer is 503 HERALD_REDIS_UNAVAILABLE with Retry-After; a HeraldError
 * (bad input, not found) passes through to its own status.
 */
import { HeraldError } from '@herald/delivery-core';
import { DeadlineExceeded, withDeadline } from '@herald/delivery-core/util';
import { ApiError, unavailable } from './errors.js';
import type { ApiDeps } from './route.js';

/** Deadline of an operation that may touch many jobs or entries (below the request timeout). */
export const BULK_TIMEOUT_MS = 50_000;

/** Errors of a Redis connection that is down or going away (ioredis's messages). */
const CONNECTION_ERROR =
  /connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|max retries|stream isn't writeable|offline queue/i;

export async function within<T>(deps: ApiDeps, work: Promise<T>, timeoutMs?: number): Promise<T> {
  try {
    return await withDeadline(work, timeoutMs ?? deps.api.redis_timeout, 'Redis');
  } catch (err) {
    if (err instanceof ApiError || err instanceof HeraldError) throw err;
    if (err instanceof DeadlineExceeded)
      throw unavailable(
        timeoutMs === undefined
          ? `Redis did not answer within ${deps.api.redis_timeout} ms`
          : `the operation did not finish within ${timeoutMs} ms (it may still complete)`,
      );
    if (CONNECTION_ERROR.test((err as Error).message ?? '')) throw unavailable('Redis unavailable');
    throw err;
  }
}
