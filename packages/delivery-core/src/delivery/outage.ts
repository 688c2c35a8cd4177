/**
 * How delivery rides out a Redis outage (a cluster failover, a server restart), for the BullMQ
 * worker and the fast path alike. The end of an attempt — the outcome written to Redis (the job
 * finished, or its new data and retry time), the operator mark read before it — is retried
 * through outage errors for up to ENDING_RIDE_MS (`rideEnding`), while the job's lock or lease is
 * still renewed, so the process that made the attempt records it once Redis answers again instead
 * of leaving the job to crash recovery (lock or lease expiry, then another attempt: a duplicate
 * delivery, or for a job already finished nothing: a job whose message is not in the spool is
 * ended without an attempt or a bounce, process.ts). A job whose attempt
 * could not run because Redis did not answer is tried again after OUTAGE_RETRY_MS, not after
 * LOCAL_FAULT_RETRY_MS (a bug or a bad config). Needs injected: the logger, an abort signal
 * (the worker or lane stopping).
 */
import type { Logger } from 'pino';
import { isRedisOutage, rideOutage } from '../redis/index.js';

/**
 * How long the end of an attempt is retried through a Redis outage: a failover by Redis
 * Cluster's defaults (cluster-node-timeout 15 s, then the replicas' election) is over well within.
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

/** `op` (safe to repeat) retried through a Redis outage for up to ENDING_RIDE_MS. */
export function rideEnding<T>(what: string, op: () => Promise<T>, options: RideEndingOptions): Promise<T> {
  const { logger, jobId, signal } = options;
  return rideOutage(op, {
    windowMs: ENDING_RIDE_MS,
    ...(signal ? { signal } : {}),
    onOutage: (err, tries) => {
      // The first miss says what waits; the rest only at debug level (a retry every second).
      const level = tries === 1 ? 'warn' : 'debug';
      logger[level](
        { jobId, err: (err as Error).message, tries },
        `redis did not answer (${what}); retrying`,
      );
    },
  });
}
