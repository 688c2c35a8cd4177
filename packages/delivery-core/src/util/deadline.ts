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
  // One promise and one timer (not a race of two promises and a `finally`): this runs for every
  // Redis step of every submission.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
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
