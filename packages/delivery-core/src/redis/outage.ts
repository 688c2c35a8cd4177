/**
 * Riding out a Redis outage: a failover (a cluster master killed, its replica promoted) or a
 * server restart. `isRedisOutage` says whether an error means "Redis did not answer this now"
 * (the connection closed, the cluster redirected past its budget, CLUSTERDOWN, a demoted master's
 * READONLY, a server still LOADING its AOF) rather than "Redis refused this" (a script error, a
 * wrong type). `rideOutage` retries an operation through such errors, backing off from
 * OUTAGE_FIRST_RETRY_MS to OUTAGE_MAX_RETRY_MS, for at most `windowMs` after the first one;
 * any other error, the end of the window or the abort signal ends it with the last error.
 * For operations that are safe to repeat (idempotent writes, reads): a try whose reply was lost
 * may have taken effect. Needs nothing injected but, in tests, the sleep.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleepFor } from 'node:timers/promises';

export const OUTAGE_FIRST_RETRY_MS = 100;
export const OUTAGE_MAX_RETRY_MS = 1_000;

/**
 * The controller an owner aborts to stop every `rideOutage` it runs (a worker, a lane, the event
 * sink stopping). Each ride sleeps on its signal, and an outage starts many at once (a job per
 * slot, a batch per held event write), so the signal takes any number of listeners: Node's
 * default of 10 printed a `MaxListenersExceeded` "possible memory leak" warning on the relay's
 * stderr in every Redis outage with more than 10 of them.
 */
export function outageStopController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** ioredis's messages for a command that never reached a server or lost its connection. */
const CLOSED_MESSAGES = [
  'Connection is closed.',
  "Cluster isn't ready and enableOfflineQueue options is false",
  "Stream isn't writeable and enableOfflineQueue options is false",
];
const REDIRECTIONS_PREFIX = 'Too many Cluster redirections';
/** Reply prefixes of a server or cluster that cannot serve the key now. */
const UNAVAILABLE_REPLIES = /^(CLUSTERDOWN|TRYAGAIN|MOVED|ASK|READONLY|LOADING|MASTERDOWN)\b/;
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN']);

/** True when `err` says Redis (or the cluster's node for the key) did not answer now. */
export function isRedisOutage(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const { message, name } = e;
    const code = (e as { code?: unknown }).code;
    if (CLOSED_MESSAGES.includes(message)) return true;
    if (message.startsWith(REDIRECTIONS_PREFIX) || UNAVAILABLE_REPLIES.test(message)) return true;
    // A connection without retries per request (the command connection) fails its in-flight
    // commands this way when the server goes.
    if (name === 'MaxRetriesPerRequestError' || message === 'Command timed out') return true;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
  }
  return false;
}

/** Redis 7's reply to an EXEC it refuses for memory at EXEC time (every command was QUEUED). */
const EXEC_OOM_PREFIX = 'EXECABORT Transaction discarded because of: OOM ';

/**
 * True when `err` says Redis refused a write for want of memory (`maxmemory` reached under
 * `noeviction`): an `OOM` reply, or a transaction's `EXECABORT` whose queued commands met one,
 * or whose EXEC met it (then nothing of the transaction ran). Not an outage, but as passing for
 * a write that can wait: the queue draining (delivered bodies deleted) or an operator frees memory.
 */
export function isRedisFull(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.message.startsWith('OOM ') || err.message.startsWith(EXEC_OOM_PREFIX)) return true;
  const previous = (err as { previousErrors?: unknown }).previousErrors;
  return (
    err.message.startsWith('EXECABORT') &&
    Array.isArray(previous) &&
    previous.some((e) => e instanceof Error && e.message.startsWith('OOM '))
  );
}

export interface RideOutageOptions {
  /** How long after the first outage error the operation is still retried. */
  windowMs: number;
  /** Aborted: no further try (the last error is thrown). */
  signal?: AbortSignal;
  /** Which errors are tried again (default `isRedisOutage`). */
  retryable?(err: unknown): boolean;
  /** Told of each outage error before the wait (to log it). */
  onOutage?(err: unknown, tries: number): void;
  now?: () => number;
  /** Waits `ms` (rejecting or returning early on abort is fine). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<unknown>;
}

/**
 * `op()`, tried again while it fails with an outage error (or what `retryable` says), within
 * `windowMs` of the first one.
 */
export async function rideOutage<T>(op: () => Promise<T>, options: RideOutageOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }).catch(() => {}));
  let firstFailure: number | undefined;
  let delay = OUTAGE_FIRST_RETRY_MS;
  const retryable = options.retryable ?? isRedisOutage;
  for (let tries = 1; ; tries++) {
    try {
      return await op();
    } catch (err) {
      firstFailure ??= now();
      const left = firstFailure + options.windowMs - now();
      if (!retryable(err) || left <= 0 || options.signal?.aborted) throw err;
      options.onOutage?.(err, tries);
      await sleep(Math.min(delay, left), options.signal);
      if (options.signal?.aborted) throw err;
      delay = Math.min(delay * 2, OUTAGE_MAX_RETRY_MS);
    }
  }
}
