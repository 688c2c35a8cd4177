/**
 * How delivery rides out a Redis outage (a cluster failover, a server restart) or a full Redis
 * (`maxmemory` reached under `noeviction`: writes refused with `OOM`, a MULTI with `EXECABORT`),
 * for the BullMQ worker and the fast path alike. The end of an attempt — the outcome written to
 * Redis (the job finished, or its new data and retry time), the operator mark read before it — is
 * retried through both for up to ENDING_RIDE_MS (`rideEnding`), while the job's lock or lease is
 * still renewed (a fast-lane lease's renewal is allowed under OOM, queue/leases.ts; a BullMQ lock's
 * is not: BullMQ's lock extension is refused, so a full Redis outlasting `lock_duration` leaves the
 * job to the stalled check), so the process that made the attempt records it once Redis answers
 * again or has memory again instead of leaving the job to crash recovery (lock or lease expiry,
 * then another attempt: a duplicate delivery, or for a job already finished nothing: a job whose
 * message is not in the spool is ended without an attempt or a bounce, process.ts). A full Redis
 * frees memory as the queue drains (delivered bodies deleted, keys expiring) or the operator acts,
 * so waiting is right; each retried step is safe to repeat. A job whose attempt
 * could not run because Redis did not answer is tried again after OUTAGE_RETRY_MS, not after
 * LOCAL_FAULT_RETRY_MS (a bug or a bad config). Needs injected: the logger, an abort signal
 * (the worker or lane stopping).
 */
import type { Logger } from 'pino';
import { isRedisFull, isRedisOutage, rideOutage } from '../redis/index.js';

/**
 * How long the end of an attempt is retried through a Redis outage or a full Redis: a failover by
 * Redis Cluster's defaults (cluster-node-timeout 15 s, then the replicas' election) is over well
 * within.
 */
export const ENDING_RIDE_MS = 60_000;
/** A job whose processing threw unexpectedly is retried after this long, attempt not counted. */
export const LOCAL_FAULT_RETRY_MS = 60_000;
/** A job whose attempt could not start because Redis did not answer is retried after this long. */
export const OUTAGE_RETRY_MS = 5_000;

/** When a job whose processing threw `err` is tried again. */
export function retryAfterFault(err: unknown, now: number): number {
  return now + (isRedisOutage(err) ? OUTAGE_RETRY_MS : LOCAL_FAULT_RETRY_MS);
}

export interface RideEndingOptions {
  logger: Logger;
  jobId: string;
  /** Stops the retries (the worker or lane closing without waiting any longer). */
  signal?: AbortSignal;
}

/** Errors an attempt's ending waits through: Redis did not answer, or refused the write full. */
function endingRetryable(err: unknown): boolean {
  return isRedisOutage(err) || isRedisFull(err);
}

/** `op` (safe to repeat) retried through a Redis outage or a full Redis for up to ENDING_RIDE_MS. */
export function rideEnding<T>(what: string, op: () => Promise<T>, options: RideEndingOptions): Promise<T> {
  const { logger, jobId, signal } = options;
  return rideOutage(op, {
    windowMs: ENDING_RIDE_MS,
    ...(signal ? { signal } : {}),
    retryable: endingRetryable,
    onOutage: (err, tries) => {
      // The first miss says what waits; the rest only at debug level (a retry every second).
      const level = tries === 1 ? 'warn' : 'debug';
      const why = isRedisFull(err) ? 'redis is full (maxmemory)' : 'redis did not answer';
      logger[level]({ jobId, err: (err as Error).message, tries }, `${why} (${what}); retrying`);
    },
  });
}
