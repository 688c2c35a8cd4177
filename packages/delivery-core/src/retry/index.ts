/**
 * When to try a deferred delivery again, and when to give up. Pure: randomness is injected
 * (`random`, default Math.random) and time is passed in, so tests are exact. The schedule lists
 * the delay before attempt 2, 3, ...; its last entry repeats. Near the end of the queue lifetime
 * the next attempt is pulled in to the deadline itself (Postfix makes one last try), and after the
 * deadline recipients expire with EXPIRED_REPLY (5.4.7).
 *
 * Retry classes (classes.ts): a deferred reply is classed (greylisted, throttled, mailbox_full,
 * network, dns, policy, default) by the bounce classifier's reason through one table
 * (reason-classes.ts), and each class has its own schedule derived from the site's;
 * `retryDecisionForReplies` classes a job's deferred replies and retries at the earliest of them.
 */
import type { SmtpReply } from '../errors/index.js';
import { type RetryClass, type RetryClassifier, scheduleFor } from './classes.js';
import { retryClassOf } from './reason-classes.js';

export {
  CLASS_SCHEDULES,
  type ClassSchedule,
  RETRY_CLASSES,
  type RetryClass,
  type RetryClassifier,
  scheduleFor,
} from './classes.js';
export { RETRY_CLASS_BY_REASON, retryClassOf } from './reason-classes.js';

export interface RetryPolicy {
  /** Delay in ms before attempt 2, 3, ...; the last entry repeats. */
  scheduleMs: readonly number[];
  /** ± fraction applied to each delay, 0 ≤ jitter < 1. */
  jitter: number;
  /** From first enqueue to expiry, ms. */
  maxQueueLifetimeMs: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Same figures as the config defaults: 5m doubling to 4h, ±20 %, 5 days. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  scheduleMs: Object.freeze([
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    20 * MINUTE_MS,
    40 * MINUTE_MS,
    80 * MINUTE_MS,
    2 * HOUR_MS,
    4 * HOUR_MS,
  ]),
  jitter: 0.2,
  maxQueueLifetimeMs: 5 * DAY_MS,
});

/** The reply recorded for recipients whose queue lifetime ran out. */
export const EXPIRED_REPLY: Readonly<SmtpReply> = Object.freeze({
  code: 554,
  enhanced: '5.4.7',
  text: 'delivery time expired',
  stage: 'queue',
});

/** Builds a policy from the parsed `retry` config section (durations already in ms). */
export function retryPolicyFromConfig(retry: {
  readonly schedule: readonly number[];
  readonly jitter: number;
  readonly max_queue_lifetime: number;
}): RetryPolicy {
  return {
    scheduleMs: [...retry.schedule],
    jitter: retry.jitter,
    maxQueueLifetimeMs: retry.max_queue_lifetime,
  };
}

/**
 * Delay in ms before the next attempt after `attemptsMade` attempts (>= 1): schedule[attemptsMade-1]
 * (the last entry repeats), scaled by a uniform factor in [1 - jitter, 1 + jitter).
 */
export function nextRetryDelayMs(
  policy: RetryPolicy,
  attemptsMade: number,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 1) {
    throw new RangeError(`attemptsMade must be an integer >= 1, got ${attemptsMade}`);
  }
  const { scheduleMs, jitter } = policy;
  if (scheduleMs.length === 0) throw new RangeError('retry schedule is empty');
  const base = scheduleMs[Math.min(attemptsMade, scheduleMs.length) - 1]!;
  const spread = Math.min(Math.max(jitter, 0), 1);
  const factor = 1 + spread * (2 * random() - 1);
  return Math.max(0, Math.round(base * factor));
}

export type RetryDecision = { action: 'retry'; at: number } | { action: 'expire' };

export interface RetryDecisionArgs {
  attemptsMade: number;
  firstAttemptAt: number;
  now: number;
  random?: () => number;
  /** Use this class's schedule (scheduleFor) instead of the policy's own; absent = the policy's. */
  retryClass?: RetryClass;
}

/**
 * After a failed attempt: retry at `at` (epoch ms), or expire. Expires once `now` has reached
 * firstAttemptAt + maxQueueLifetimeMs; if the scheduled retry would land after that deadline, the
 * retry is moved to the deadline so one final attempt happens.
 */
export function retryDecision(policy: RetryPolicy, args: RetryDecisionArgs): RetryDecision {
  const deadline = args.firstAttemptAt + policy.maxQueueLifetimeMs;
  if (args.now >= deadline) return { action: 'expire' };
  const schedule =
    args.retryClass === undefined ? policy : { ...policy, scheduleMs: scheduleFor(policy, args.retryClass) };
  const at = args.now + nextRetryDelayMs(schedule, args.attemptsMade, args.random);
  return { action: 'retry', at: Math.min(at, deadline) };
}

/** A decision for a whole job, with the class that set its time and each reply's class. */
export type ClassedRetryDecision = RetryDecision & {
  /** The class whose schedule gave the retry time: put it on the `deferred` events. */
  retryClass: RetryClass;
  /** The class of each reply, in the order given. */
  classes: RetryClass[];
};

/**
 * After an attempt that left recipients deferred with `replies` (one per deferred recipient, at
 * least one): classes each reply (`classify`, default retryClassOf) and retries the job at the
 * earliest time any of them asks for. The class is chosen by its un-jittered delay for this
 * attempt (ties: first reply wins), then jitter and the deadline apply once, as in retryDecision.
 */
export function retryDecisionForReplies(
  policy: RetryPolicy,
  args: Omit<RetryDecisionArgs, 'retryClass'> & {
    replies: readonly SmtpReply[];
    classify?: RetryClassifier;
  },
): ClassedRetryDecision {
  const { replies, classify = retryClassOf, ...rest } = args;
  if (replies.length === 0) throw new RangeError('retryDecisionForReplies needs at least one reply');
  const classes = replies.map((reply) => classify(reply));
  let retryClass = classes[0]!;
  let earliest = Number.POSITIVE_INFINITY;
  for (const cls of new Set(classes)) {
    const delay = nextRetryDelayMs(
      { ...policy, scheduleMs: scheduleFor(policy, cls), jitter: 0 },
      rest.attemptsMade,
    );
    if (delay < earliest) {
      earliest = delay;
      retryClass = cls;
    }
  }
  return { ...retryDecision(policy, { ...rest, retryClass }), retryClass, classes };
}
