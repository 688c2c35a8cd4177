/**
 * Passing a job through a list of rates (tenant, campaign, site lane), each a GCRA key in Redis,
 * with each rate booked at most once per job: a stage that makes the job wait books its slot
 * (`reserve`), and the job keeps the booking in `data.rateSlots` (key → epoch ms due); coming back
 * at that time it passes the stage without booking again. A stage passed at once is marked the
 * same way, so a later stage's wait does not make the job pay the earlier one twice. The caller
 * clears `rateSlots` when the attempt is admitted. So a backlog of N jobs costs O(N) Redis calls.
 */
import type { DeliveryJobData } from '../queue/index.js';
import type { Rate, RateLimiter } from '../throttle/index.js';

/** A booked slot this close ahead counts as due (BullMQ promotes delayed jobs with some jitter). */
export const SLOT_TOLERANCE_MS = 5;

export interface RateStage {
  /** The limiter key, e.g. `tenant:acme`, `site:provider:gmail@192.0.2.10`. */
  key: string;
  rate: Rate;
}

/**
 * Longest the further transactions of one admitted attempt wait in all, on their open connection,
 * for the next messages of their rate; past that the recipients left are deferred to the next
 * attempt (which books its slot and waits in the queue, not on a connection). At 10/s a further
 * message waits about 0.1 s, so an attempt sends about 600 in this time; at a rate of a few per
 * minute it does not hold a connection for hours.
 */
export const FURTHER_MESSAGE_MAX_WAIT_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One more message of `key`'s rate for each further transaction of an admitted attempt (which
 * took its first message at admission), one function per attempt: taken now, or after waiting
 * for the next free one while the attempt's waits stay within FURTHER_MESSAGE_MAX_WAIT_MS in all
 * (GCRA `tryAcquire`, so nothing is booked that the attempt does not use). False once the wait
 * would be longer, or the limiter cannot answer (the caller defers: the rate is never exceeded).
 * `wait` is injectable for tests.
 */
export function messageSlot(
  limiter: RateLimiter,
  key: string,
  rate: Rate,
  wait: (ms: number) => Promise<void> = sleep,
): () => Promise<boolean> {
  let waited = 0;
  return async () => {
    for (;;) {
      const slot = await limiter.tryAcquire(key, rate).catch(() => undefined);
      if (!slot) return false;
      if (slot.allowed) return true;
      // Another job may take the slot first: try again then, within the same budget.
      const delay = Math.max(1, slot.retryAfterMs);
      if (waited + delay > FURTHER_MESSAGE_MAX_WAIT_MS) return false;
      await wait(delay);
      waited += delay;
    }
  };
}

/** Undefined when every stage lets the job go now; else the first stage it waits for, and until when. */
export async function passRates(
  stages: readonly RateStage[],
  data: DeliveryJobData,
  limiter: RateLimiter,
  now: () => number,
): Promise<{ key: string; until: number } | undefined> {
  for (const stage of stages) {
    const booked = data.rateSlots?.[stage.key];
    if (booked !== undefined) {
      if (now() + SLOT_TOLERANCE_MS < booked) return { key: stage.key, until: booked };
      continue;
    }
    const slot = await limiter.reserve(stage.key, stage.rate);
    const at = now() + slot.delayMs;
    data.rateSlots = { ...data.rateSlots, [stage.key]: at };
    if (slot.delayMs > SLOT_TOLERANCE_MS) return { key: stage.key, until: at };
  }
  return undefined;
}
