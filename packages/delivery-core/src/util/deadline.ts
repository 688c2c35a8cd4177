/**
 * Herald's one timeout helper: every bounded wait on a promise goes through here.
 * - `withDeadline` settles like the promise, or rejects with DeadlineExceeded after `ms` (a Redis
 *   call while a client waits for its reply, connecting to Redis, a health ping).
 * - `settlesWithin` resolves true when the promise settles (either way) within `ms`, else false
 *   (shutdown paths that wait a bounded time for work to end).
 * The work itself is never cancelled and may still complete later; the timer never outlives the
 * race.
 */

export class DeadlineExceeded extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what}: no answer within ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** True when `promise` settles (either way) within `ms`; false otherwise. The promise keeps running. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await withDeadline(promise, ms, 'wait');
    return true;
  } catch (err) {
    return !(err instanceof DeadlineExceeded);
  }
}
